/**
 * Command line of the engine.
 *
 *     deno task generate --model m.gguf --prompt "…" [--chat] [--temp T] [--seed S]
 *                        [--max-tokens N] [--top-k K] [--top-p P] [--min-p P] [--ctx N]
 *                        [--threads N] [--activations f32|ggml] [--backend cpu|webgpu]
 *     deno task chat --model m.gguf [same sampling flags]
 *
 * On the CPU, `--activations` defaults to `ggml` (activations rounded to Q8 before the quantized
 * products, as llama.cpp's CPU path does: faster prompts and decoding on the WASM kernels,
 * bench/RESULTS.md); `f32` keeps them exact (`loadModel`'s default).
 *
 * `generate` streams the continuation (or, with --chat, the answer to the prompt as a user turn)
 * and prints prompt and decode tokens per second to stderr. `chat` is interactive: `/reset`
 * forgets the conversation, Ctrl-C cancels the answer being written, Ctrl-D quits.
 *
 * @module
 */
import { DEFAULT_MODEL } from "./default_model.ts";
import { parseArgs } from "node:util";
import { type ChatMessage, type GenerateOptions, loadModel, type Model } from "./mod.ts";
import { progressBar, resolveModel } from "../io/hub/mod.ts";
import { setWasmThreads } from "../backends/runtime.ts";
import { gpuGenerate, loadGpuDecoder, webgpuUnavailable } from "./model/gpu/stream.ts";
import { MAX_TOP_K } from "./model/gpu/sample.ts";

const USAGE =
  `usage: generate [--model m.gguf|owner/repo:QUANT|hf://…|https://…] --prompt "text" [--chat] [--temp T] [--seed S]
                [--max-tokens N] [--top-k K] [--top-p P] [--min-p P] [--ctx N]
                [--threads N] [--activations f32|ggml] [--backend cpu|webgpu]
       chat [--model m.gguf] [sampling flags]\n(without --model: the bundled model, models/kjv-llama-q8_0.gguf)`;

const enc = new TextEncoder();
const out = (s: string) => Deno.stdout.writeSync(enc.encode(s));
const err = (s: string) => Deno.stderr.writeSync(enc.encode(s));

function reportSpeed(m: Model): void {
  const s = m.stats;
  if (!s) return;
  const rate = (n: number, ms: number) => (ms > 0 ? (n / ms) * 1000 : 0).toFixed(1);
  err(
    `\n[prompt ${s.promptTokens} tokens, ${rate(s.promptTokens, s.promptMs)} tok/s; ` +
      `decode ${s.decodeTokens} tokens, ${rate(s.decodeTokens, s.decodeMs)} tok/s; ` +
      `${s.stopReason}]\n`,
  );
}

/** Bytes read from stdin past the last line returned. */
let pending: number[] = [];

async function readLine(): Promise<string | null> {
  const buf = new Uint8Array(4096);
  while (true) {
    const nl = pending.indexOf(10);
    if (nl >= 0) {
      const line = new TextDecoder().decode(new Uint8Array(pending.slice(0, nl)));
      pending = pending.slice(nl + 1);
      return line;
    }
    const n = await Deno.stdin.read(buf);
    if (n === null) {
      if (!pending.length) return null;
      const rest = new TextDecoder().decode(new Uint8Array(pending));
      pending = [];
      return rest;
    }
    for (let i = 0; i < n; i++) pending.push(buf[i]);
  }
}

async function main(mode: string, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      chat: { type: "boolean", default: false },
      temp: { type: "string" },
      seed: { type: "string" },
      "max-tokens": { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      "min-p": { type: "string" },
      ctx: { type: "string" },
      threads: { type: "string" },
      activations: { type: "string" },
      backend: { type: "string", default: "cpu" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || (mode === "generate" && values.prompt === undefined)) {
    err(USAGE + "\n");
    return values.help ? 0 : 2;
  }
  if (!values.model) {
    values.model = DEFAULT_MODEL;
    err(`no --model given: using the bundled model ${DEFAULT_MODEL} (our KJV llama)\n`);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  if (values.threads !== undefined) {
    const n = Number(values.threads);
    if (!Number.isInteger(n) || n < 1 || n > 256) {
      err(`--threads: expected an integer from 1 to 256, got "${values.threads}"\n`);
      return 2;
    }
    setWasmThreads(n);
  }
  const acts = values.activations;
  if (acts !== undefined && acts !== "f32" && acts !== "ggml") {
    err(`--activations: expected f32 (exact) or ggml (llama.cpp's Q8 rounding), got "${acts}"\n`);
    return 2;
  }
  if (values.backend !== "cpu" && values.backend !== "webgpu") {
    err(`--backend: expected cpu or webgpu, got "${values.backend}"\n`);
    return 2;
  }
  const opts: GenerateOptions = {
    temperature: num(values.temp) ?? (mode === "chat" ? 0.8 : 0),
    seed: num(values.seed),
    maxTokens: num(values["max-tokens"]) ?? 256,
    topK: num(values["top-k"]),
    topP: num(values["top-p"]),
    minP: num(values["min-p"]),
  };
  const t0 = performance.now();
  // A hub name or URL (owner/repo:Q4_K_M, hf://…, https://…) is pulled into the cache first.
  const path = await resolveModel(values.model, { onProgress: progressBar() });
  const model = await loadModel(path, {
    contextLength: num(values.ctx),
    activations: acts ?? (values.backend === "cpu" ? "ggml" : undefined),
    onProgress: (a, b) => err(`\rloading ${(100 * a / b).toFixed(0)}%`),
  });
  err(
    `\r${values.model}: ${model.config.arch}, ${model.config.layers} layers, loaded in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  try {
    if (mode === "generate" && values.backend === "webgpu") {
      // The GPU samples greedily or with top-k ≤ 64 (+ top-p, min-p, temperature); other
      // requests fall back to the CPU, saying why.
      const t = opts.temperature ?? 0;
      const sampling = t > 0
        ? {
          temperature: t,
          topK: opts.topK ?? 40,
          topP: opts.topP ?? 0.95,
          minP: opts.minP ?? 0.05,
          seed: Number(opts.seed ?? 0),
        }
        : undefined;
      const why = await webgpuUnavailable() ??
        (values.chat
          ? "--chat runs on the CPU for now"
          : sampling && !(sampling.topK >= 1 && sampling.topK <= MAX_TOP_K)
          ? `the GPU sampler takes --top-k 1..${MAX_TOP_K}`
          : null);
      if (why) err(`--backend webgpu: ${why}; using the CPU\n`);
      else {
        const dec = await loadGpuDecoder(path, Math.min(model.contextLength, 2048));
        try {
          out(values.prompt!);
          const t1 = performance.now();
          let pieces = 0;
          for await (
            const piece of gpuGenerate(dec, model, values.prompt!, opts.maxTokens!, sampling)
          ) {
            out(piece);
            pieces++;
          }
          const s = (performance.now() - t1) / 1000;
          err(`\n[webgpu: ${dec.position} positions in ${s.toFixed(2)} s, ${pieces} pieces]\n`);
          return 0;
        } finally {
          dec.dispose();
        }
      }
    }
    if (mode === "generate") {
      const stream = values.chat
        ? model.chat([{ role: "user", content: values.prompt! }], opts)
        : model.generate(values.prompt!, opts);
      if (!values.chat) out(values.prompt!);
      for await (const piece of stream) out(piece);
      reportSpeed(model);
      return 0;
    }
    const history: ChatMessage[] = [];
    let current: AbortController | null = null;
    const onSigint = () => {
      if (current) current.abort();
      else Deno.exit(130);
    };
    Deno.addSignalListener("SIGINT", onSigint);
    try {
      while (true) {
        out("> ");
        const line = await readLine();
        if (line === null) break;
        if (line.trim() === "/reset") {
          history.length = 0;
          err("[conversation reset]\n");
          continue;
        }
        if (line.trim() === "") continue;
        history.push({ role: "user", content: line });
        current = new AbortController();
        let answer = "";
        for await (const piece of model.chat(history, { ...opts, signal: current.signal })) {
          answer += piece;
          out(piece);
        }
        current = null;
        history.push({ role: "assistant", content: answer });
        reportSpeed(model);
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  if (mode !== "generate" && mode !== "chat") {
    err(USAGE + "\n");
    Deno.exit(2);
  }
  Deno.exit(await main(mode, rest));
}
