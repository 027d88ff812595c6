"""Run an ASGI app (the proxy) with uvicorn on 127.0.0.1 in a background thread, for real HTTP tests."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

import uvicorn

from .conftest import free_port


@contextlib.contextmanager
def running(app, timeout: float = 30) -> Iterator[str]:  # noqa: ANN001
    """Yield the server's base URL (``http://127.0.0.1:PORT``); stop it cleanly on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError("the proxy did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
