/**
 * The chat page served at `GET /`: one self-contained HTML file (no external assets) that
 * streams answers from `/v1/chat/completions`, with a stop button, the model's name and tok/s.
 * `localStorage.apiKey` and `localStorage.maxTokens`, when set, go with each request.
 *
 * @module
 */

/**
 * The page's HTML.
 *
 * @example
 * ```ts
 * import { chatPage } from "./page.ts";
 * console.log(chatPage("m.gguf").includes("<title>")); // true
 * ```
 *
 * @param modelName shown in the header
 * @returns the HTML text
 */
export function chatPage(modelName: string): string {
  const name = modelName.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${name} · aprender chat</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh;background:#fafafa}
header{padding:8px 16px;background:#222;color:#eee;display:flex;justify-content:space-between}
#log{flex:1;overflow:auto;padding:16px}
.msg{max-width:48em;margin:0 0 12px;padding:8px 12px;border-radius:8px;white-space:pre-wrap}
.user{background:#dbeafe;margin-left:auto}.assistant{background:#fff;border:1px solid #ddd}
form{display:flex;gap:8px;padding:12px 16px;border-top:1px solid #ddd;background:#fff}
textarea{flex:1;font:inherit;resize:none;height:3em}button{font:inherit;padding:0 16px}
</style></head>
<body>
<header><b id="model">${name}</b><span id="speed">–</span></header>
<div id="log"></div>
<form id="f"><textarea id="input" placeholder="Say something (Enter sends)"></textarea>
<button id="send" type="submit">Send</button><button id="stop" type="button" disabled>Stop</button></form>
<script>
const log = document.getElementById("log"), input = document.getElementById("input");
const send = document.getElementById("send"), stop = document.getElementById("stop");
const speed = document.getElementById("speed");
const history = [];
let ctl = null;
function add(role, text) {
  const d = document.createElement("div");
  d.className = "msg " + role; d.textContent = text; log.appendChild(d);
  log.scrollTop = log.scrollHeight; return d;
}
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); document.getElementById("f").requestSubmit(); }
});
stop.onclick = () => ctl && ctl.abort();
document.getElementById("f").onsubmit = async (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || ctl) return;
  input.value = "";
  history.push({ role: "user", content: text });
  add("user", text);
  const out = add("assistant", "");
  out.id = "answer-" + history.length;
  ctl = new AbortController(); send.disabled = true; stop.disabled = false;
  const t0 = performance.now(); let n = 0, answer = "";
  try {
    const r = await fetch("v1/chat/completions", {
      method: "POST", signal: ctl.signal,
      headers: { "content-type": "application/json", ...(localStorage.apiKey ? { authorization: "Bearer " + localStorage.apiKey } : {}) },
      body: JSON.stringify({
        messages: history, stream: true, stream_options: { include_usage: true },
        ...(localStorage.maxTokens ? { max_tokens: Number(localStorage.maxTokens) } : {}),
      }),
    });
    if (!r.ok) throw new Error((await r.json()).error.message);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\\n\\n")) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 2);
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const ev = JSON.parse(line.slice(6));
        const d = ev.choices[0] && ev.choices[0].delta;
        if (d && d.content) { answer += d.content; out.textContent = answer; n++; }
        if (ev.usage) n = ev.usage.completion_tokens;
        speed.textContent = (n / ((performance.now() - t0) / 1000)).toFixed(1) + " tok/s";
        log.scrollTop = log.scrollHeight;
      }
    }
    out.dataset.done = "1";
  } catch (err) {
    if (err.name !== "AbortError") out.textContent = answer + " [error: " + err.message + "]";
    out.dataset.done = "stopped";
  } finally {
    history.push({ role: "assistant", content: answer });
    ctl = null; send.disabled = false; stop.disabled = true;
  }
};
</script></body></html>
`;
}
