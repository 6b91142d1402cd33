/**
 * Text generation through the GPU decoder (llm/model/gpu/decoder.ts) for the CLI's and server's
 * `--backend webgpu`: the prompt is tokenized by the CPU model's tokenizer (as `Model.generate`
 * does), the weights of the same file are loaded into a {@link GpuDecoder}, and text is streamed per
 * batch of ids read back.
 * Greedy, or seeded sampling on the GPU (llm/model/gpu/sample.ts); EOS ends the stream.
 *
 * @module
 */
import { backends, ready } from "../../../core/backend/registry.ts";
import { DeviceError } from "../../../core/errors.ts";
import { openGguf } from "../../../io/gguf/read.ts";
import { readConfig } from "../config.ts";
import type { Model } from "../model.ts";
import { loadWeights, weightTensors } from "../weights.ts";
import { GpuDecoder } from "./decoder.ts";
import type { GpuSampling } from "./sample.ts";

/**
 * Why the WebGPU backend cannot run here, or null when it can.
 *
 * @example
 * ```ts ignore
 * const why = await webgpuUnavailable();
 * if (why) console.error(`--backend webgpu: ${why}; using the CPU`);
 * ```
 */
export async function webgpuUnavailable(): Promise<string | null> {
  await ready();
  const b = backends().find((x) => x.name === "webgpu");
  if (!b) return "the WebGPU plugin is not registered";
  return b.status === "available"
    ? null
    : `WebGPU is ${b.status}${b.reason ? ` (${b.reason})` : ""}`;
}

/**
 * Load the GGUF at `path` into a GPU decoder of `contextLength` positions.
 *
 * @example
 * ```ts ignore
 * const dec = await loadGpuDecoder("model.gguf", 1024);
 * ```
 */
export async function loadGpuDecoder(path: string, contextLength: number): Promise<GpuDecoder> {
  const f = await openGguf(path);
  try {
    const cfg = readConfig((k) => f.get(k), f.name, f.tensorInfo("token_embd.weight").shape[0]);
    const w = loadWeights(f, cfg);
    try {
      return await GpuDecoder.create(w, cfg, contextLength);
    } finally {
      for (const t of weightTensors(w)) t.dispose();
    }
  } finally {
    f.close();
  }
}

/**
 * Continuation of `prompt` on the GPU, as text pieces (one per batch read back).
 *
 * @param dec the GPU decoder (its cache is reset)
 * @param model the CPU model of the same file (its tokenizer)
 * @param prompt the prompt text
 * @param maxTokens most new tokens
 * @param sampling seeded sampling settings (greedy without)
 * @example
 * ```ts ignore
 * for await (const piece of gpuGenerate(dec, model, "Once upon a time", 64)) console.log(piece);
 * ```
 */
export async function* gpuGenerate(
  dec: GpuDecoder,
  model: Model,
  prompt: string,
  maxTokens: number,
  sampling?: GpuSampling,
): AsyncGenerator<string> {
  const tok = model.tokenizer;
  const ids = tok.encode(prompt, { addSpecial: true });
  if (ids.length === 0) throw new DeviceError("gpuGenerate: the prompt has no tokens.");
  dec.position = 0;
  const n = Math.min(maxTokens, dec.contextLength - ids.length);
  const got: number[] = [];
  const queue: string[] = [];
  let said = "", done = false, error: unknown = null;
  let wake: (() => void) | null = null;
  const stop = tok.eos === null ? [] : [tok.eos];
  const run = dec.generate(ids, n, {
    stop,
    sampling,
    onTokens: (batch) => {
      got.push(...batch);
      const text = tok.decode(got);
      // Hold back a trailing replacement character (an incomplete UTF-8 sequence).
      const upTo = text.endsWith("\uFFFD") ? text.length - 1 : text.length;
      if (upTo > said.length) {
        queue.push(text.slice(said.length, upTo));
        said = text.slice(0, upTo);
        wake?.();
      }
    },
  });
  run.then(() => (done = true), (e) => {
    error = e;
    done = true;
  }).finally(() => wake?.());
  while (true) {
    if (queue.length) {
      yield queue.shift()!;
      continue;
    }
    if (done) break;
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  if (error) throw error;
  const text = tok.decode(got);
  if (text.length > said.length) yield text.slice(said.length);
}
