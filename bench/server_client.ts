/**
 * bench/server.ts's clients in a Worker: the streams run on their own event loop, as a real
 * client's would, so the server's steps (which hold the main thread) do not also delay the
 * clients' own sending and reading. Message in: `{ url, ids, tokens }`; out: one result per id.
 *
 * @module
 */

/** One streamed completion: ms to the first token, ms of the rest, tokens. */
export interface StreamResult {
  /** Milliseconds from sending the request to the first token. */
  first: number;
  /** Milliseconds from the first token to the end. */
  rest: number;
  /** Tokens received. */
  tokens: number;
}

/**
 * Stream one completion of `n` tokens from `url` (prompt numbered `i`).
 *
 * @example
 * ```ts ignore
 * const r = await stream("http://127.0.0.1:8080", 0, 64);
 * ```
 */
export async function stream(url: string, i: number, n: number): Promise<StreamResult> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({
      prompt: `And it came to pass ${i}`,
      max_tokens: n,
      temperature: 0,
      logprobs: 0,
      stream: true,
      logit_bias: { "1023": -100 }, // no EOS: every stream makes exactly n tokens
    }),
  });
  let first = 0, tokens = 0, buf = "";
  for await (const part of r.body!.pipeThrough(new TextDecoderStream())) {
    buf += part;
    let k;
    while ((k = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!line.startsWith("data: {")) continue;
      const got = JSON.parse(line.slice(6)).choices[0]?.logprobs?.tokens?.length ?? 0;
      if (got && !first) first = performance.now() - t0;
      tokens += got;
    }
  }
  return { first, rest: performance.now() - t0 - first, tokens };
}

// as a Worker: run the streams asked for concurrently and post the results back
const self_ = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage?: (m: unknown) => void;
};
if (typeof self_.postMessage === "function" && "WorkerGlobalScope" in globalThis) {
  self_.onmessage = async (e: MessageEvent) => {
    const { url, ids, tokens } = e.data as { url: string; ids: number[]; tokens: number };
    const rs = await Promise.all(ids.map((i) => stream(url, i, tokens)));
    self_.postMessage!(rs);
  };
}
