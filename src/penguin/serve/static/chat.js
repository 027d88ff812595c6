// penguin's web chat: the whole conversation lives here; every turn is one streamed
// POST /v1/chat/completions with the full history (the server keeps no state).
"use strict";

const DECLINE = "I'd rather not say.";
const $ = (id) => document.getElementById(id);
const messages = $("messages"), input = $("input"), send = $("send"), key = $("key");
let history = [];
let busy = false;

key.value = sessionStorage.getItem("penguin-key") || "";
key.addEventListener("change", () => sessionStorage.setItem("penguin-key", key.value));

function bubble(role, text, extra = "") {
  const div = document.createElement("div");
  div.className = `msg ${role} ${extra}`.trim();
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.append(body);
  messages.append(div);
  div.scrollIntoView({block: "end"});
  return div;
}

function note(div, cls, text) {
  const span = document.createElement("span");
  span.className = cls;
  span.textContent = text;
  cls === "badge" ? div.prepend(span) : div.append(span);
}

function describe(div, meta) {
  if (meta.crisis) {
    div.classList.add("crisis");
    note(div, "badge", "Safety first: crisis resources");
  } else if (meta.action === "ask") {
    div.classList.add("ask");
    note(div, "badge", `Clarifying question · about ${meta.attribute} · you may decline`);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "decline";
    button.textContent = "Decline to answer";
    button.addEventListener("click", () => { if (!busy) { disableDeclines(); turn(DECLINE); } });
    div.append(button);
  } else {
    const known = meta.known.length ? meta.known.join(", ") : "nothing";
    const withheld = meta.withheld.length ? ` · not shared: ${meta.withheld.join(", ")}` : "";
    note(div, "meta", `Answered knowing: ${known}${withheld}`);
  }
}

function disableDeclines() {
  document.querySelectorAll("button.decline").forEach((b) => { b.disabled = true; });
}

async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

async function turn(text) {
  busy = true;
  send.disabled = true;
  history.push({role: "user", content: text});
  bubble("user", text);
  const headers = {"Content-Type": "application/json"};
  if (key.value) headers.Authorization = `Bearer ${key.value}`;
  let div = null, content = "", meta = null;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers, body: JSON.stringify({model: "penguin-raise", messages: history, stream: true}),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error?.message || `HTTP ${response.status}`);
    }
    div = bubble("assistant", "");
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      meta = chunk.penguin || meta;
      const piece = chunk.choices?.[0]?.delta?.content;
      if (piece) {
        content += piece;
        div.querySelector(".text").textContent = content;
      }
    }
    history.push({role: "assistant", content});
    if (meta) describe(div, meta);
  } catch (err) {
    history.pop();  // the server did not answer this turn: let the user send it again
    if (div) div.remove();
    bubble("error", `Could not get an answer: ${err.message}`);
  } finally {
    busy = false;
    send.disabled = false;
    input.focus();
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || busy) return;
  input.value = "";
  disableDeclines();
  turn(text);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("reset").addEventListener("click", () => {
  history = [];
  messages.querySelectorAll(".msg").forEach((m) => m.remove());
  input.focus();
});
