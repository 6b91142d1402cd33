/**
 * The chat page at `/` in a real browser: headless Chromium (Debian's `chromium`), driven over
 * the DevTools protocol, types a message, sends it, and sees the answer grow while it streams;
 * the stop button ends a second answer early and frees the server's slot.
 */
import assert from "node:assert/strict";
import { DEFAULT_MODEL, loadModel } from "../../llm/mod.ts";
import { serve } from "../../llm/server/mod.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (Deno.env.get("CI") === "true" && !CHROMIUM) {
  throw new Error("CI=true but chromium is missing: apt-get install chromium");
}

/** A minimal DevTools-protocol client over one page's WebSocket. */
class Cdp {
  private id = 0;
  private waiting = new Map<number, (v: { result?: unknown; error?: unknown }) => void>();
  private constructor(private ws: WebSocket) {
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.id !== undefined) this.waiting.get(m.id)?.(m), this.waiting.delete(m.id);
    };
  }
  static async open(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise((ok, err) => ((ws.onopen = ok), (ws.onerror = err)));
    return new Cdp(ws);
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.id;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((ok, err) =>
      this.waiting.set(
        id,
        (m) => (m.error
          ? err(new Error(JSON.stringify(m.error)))
          : ok(m.result as Record<string, unknown>)),
      )
    );
  }
  async eval<T>(expr: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression: expr,
      returnByValue: true,
      awaitPromise: true,
    });
    return (r.result as { value: T }).value;
  }
  close() {
    this.ws.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "page: headless Chromium sends a message and sees the answer stream in; stop ends one early",
  ignore: !CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const model = await loadModel(DEFAULT_MODEL, { contextLength: 512 });
  const srv = serve({ model, modelName: "kjv-test", port: 0, contextLength: 512 });
  const profile = await Deno.makeTempDir();
  const chrome = new Deno.Command(CHROMIUM!, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let cdp: Cdp | null = null;
  try {
    // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..." on stderr
    const reader = chrome.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "", port = "";
    while (!port) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited: ${err}`);
      err += value;
      port = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(err)?.[1] ?? "";
    }
    reader.releaseLock();
    chrome.stderr.cancel().catch(() => {});
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const page = targets.find((t: { type: string }) => t.type === "page");
    cdp = await Cdp.open(page.webSocketDebuggerUrl);
    await cdp.send("Page.enable");
    await cdp.send("Page.navigate", { url: srv.url + "/" });
    for (
      let i = 0;
      i < 100 && (await cdp.eval<string>("document.readyState")) !== "complete";
      i++
    ) await sleep(50);
    assert.equal(
      await cdp.eval<string>("document.getElementById('model').textContent"),
      "kjv-test",
    );
    await cdp.eval(
      `(() => { localStorage.maxTokens = '96'; const t = document.getElementById('input'); t.value = 'Who is the LORD?'; document.getElementById('send').click(); })()`,
    );
    // watch the answer grow: several distinct partial lengths before it is done
    const seen = new Set<number>();
    let done = "";
    for (let i = 0; i < 1200 && !done; i++) {
      const s = await cdp.eval<{ len: number; done: string }>(
        `(() => { const a = document.getElementById('answer-1'); return { len: a ? a.textContent.length : 0, done: a?.dataset.done ?? "" }; })()`,
      );
      if (s.len > 0 && !s.done) seen.add(s.len);
      done = s.done;
      await sleep(10);
    }
    assert.equal(done, "1");
    assert.ok(seen.size >= 2, `saw ${seen.size} partial states while streaming`);
    const answer = await cdp.eval<string>("document.getElementById('answer-1').textContent");
    assert.ok(answer.length > 0);
    assert.match(
      await cdp.eval<string>("document.getElementById('speed').textContent"),
      /^\d+(\.\d)? tok\/s$/,
    );
    // a fresh conversation (the first answer filled most of the context), stopped early
    await cdp.send("Page.navigate", { url: srv.url + "/" });
    for (
      let i = 0;
      i < 100 &&
      (await cdp.eval<string>(
          "document.getElementById('answer-1') === null && document.readyState",
        )) !== "complete";
      i++
    ) await sleep(50);
    await cdp.eval(
      `(() => { localStorage.maxTokens = '400'; const t = document.getElementById('input'); t.value = 'And then?'; document.getElementById('send').click(); })()`,
    );
    let partial = "";
    for (let i = 0; i < 500 && !partial; i++) {
      partial = await cdp.eval<string>("document.getElementById('answer-1')?.textContent ?? ''");
      await sleep(10);
    }
    assert.ok(partial.length > 0 && !partial.includes("[error"), partial);
    await cdp.eval("document.getElementById('stop').click()");
    for (
      let i = 0;
      i < 200 &&
      !(await cdp.eval<string>("document.getElementById('answer-1').dataset.done ?? ''"));
      i++
    ) await sleep(10);
    assert.equal(
      await cdp.eval<string>("document.getElementById('answer-1').dataset.done"),
      "stopped",
    );
    for (let i = 0; i < 200 && srv.scheduler.active > 0; i++) await sleep(10);
    assert.equal(srv.scheduler.active, 0);
    assert.equal(srv.scheduler.counters.finished.abort, 1, JSON.stringify(srv.scheduler.counters));
  } finally {
    cdp?.close();
    chrome.kill("SIGKILL");
    await chrome.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    await srv.shutdown();
    model.dispose();
  }
});
