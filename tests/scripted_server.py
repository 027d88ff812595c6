"""A tiny OpenAI-shaped HTTP server whose failures are scripted.

It stands in for a remote API's behaviour we cannot provoke on demand (rate limits, 5xx,
bad keys); everything else in these tests talks to real servers.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # tests open many connections at once; the default backlog is 5


class ScriptedServer:
    def __init__(self, script: list[int] | None = None, delay: float = 0.0, retry_after: str | None = None):
        self.script = list(script or [])
        self.delay = delay
        self.retry_after = retry_after
        self.requests: list[dict] = []
        self.seen: list[tuple[str, dict[str, str]]] = []  # (path with query, headers) per request
        self.garbage: bool | int = False  # answer 200 with a body that is not a chat completion (True: always; n: the next n times)
        self.responder = None  # optional: request body -> the answer's text (a remote model's answers)
        self.error_code: str | None = None  # the "code" of scripted error bodies
        self.sse: bytes | None = None  # the raw event stream sent to stream=True requests
        self.cut_stream = False  # close the connection halfway through that stream
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                    status = server.script.pop(0) if server.script else 200
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                left = False

                def leave() -> None:  # counted out before the answer is written: the client may
                    nonlocal left    # send its next request the moment it has read this one
                    if not left:
                        left = True
                        with server._lock:
                            server.in_flight -= 1

                try:
                    time.sleep(server.delay)
                    if status == 200 and body.get("stream") and server.sse is not None:
                        self.send_response(200)
                        self.send_header("Content-Type", "text/event-stream")
                        self.send_header("Content-Length", str(len(server.sse)))  # a cut stream falls short
                        self.send_header("Connection", "close")
                        self.end_headers()
                        data = server.sse[: len(server.sse) // 2] if server.cut_stream else server.sse
                        self.wfile.write(data)
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if status == 200:
                        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
                        if server.responder is not None:
                            content = server.responder(body)
                        elif "evaluator" in system:
                            content = server.verdict(body)
                        else:
                            content = "echo: " + body["messages"][-1]["content"]
                        payload = {
                            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": content}}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                        }
                    else:
                        payload = {"error": {"message": f"scripted {status}", "type": "test", "code": server.error_code}}
                    with server._lock:
                        garbage = bool(server.garbage)
                        if garbage and server.garbage is not True:
                            server.garbage -= 1
                    data = b"<html>maintenance</html>" if garbage and status == 200 else json.dumps(payload).encode()
                    leave()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429 and server.retry_after:
                        self.send_header("Retry-After", server.retry_after)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout test)
                    pass
                finally:
                    leave()

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def verdict(self, body: dict) -> str:
        """A judge's answer: scores derived from the model name, so two judges disagree."""
        base = 2 if body["model"].endswith("a") else 4
        return json.dumps({d: {"justification": "scripted", "score": base + (i == 0)}
                           for i, d in enumerate(("risk_sensitivity", "emotional_empathy", "personalization"))})

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
