/**
 * `deno task serve`: load a GGUF model (progress bar on stderr) and serve the OpenAI-compatible
 * API until SIGINT/SIGTERM.
 *
 * ```sh
 * deno task serve --model m.gguf [--port 8080] [--host 127.0.0.1] [--parallel N] [--ctx N]
 *   [--api-key KEY] [--cors ORIGIN] [--queue N] [--max-tokens N] [--backend cpu|webgpu]
 *   [--activations ggml|f32]
 * ```
 *
 * On the CPU the quantized products round activations to Q8 the way llama.cpp's CPU path does
 * (`--activations ggml`, the default here: faster for one stream and for `--parallel N` batches,
 * bench/RESULTS.md); `--activations f32` keeps them f32 (`loadModel`'s default, exact products).
 *
 * `--backend webgpu` decodes on the GPU (llm/model/gpu/) with one slot: requests it can take
 * (greedy or seeded top-k ≤ 64 sampling, no penalties, logit bias, grammar or logprobs) run there,
 * the rest on the CPU; without a usable adapter (or with --parallel > 1) it says why and serves on
 * the CPU.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { basename } from "node:path";
import { DEFAULT_MODEL } from "../default_model.ts";
import { loadModel } from "../model/model.ts";
import { progressBar, resolveModel } from "../../io/hub/mod.ts";
import { serve } from "./server.ts";
import { loadGpuDecoder, webgpuUnavailable } from "../model/gpu/stream.ts";
import type { GpuDecoder } from "../model/gpu/decoder.ts";

const USAGE =
  `usage: deno task serve [--model m.gguf] [--port 8080] [--host 127.0.0.1] [--parallel 1]
  [--ctx N] [--api-key KEY] [--cors ORIGIN] [--queue 64] [--max-tokens N] [--backend cpu|webgpu]
  [--activations ggml|f32]   (CPU products: Q8-rounded activations as llama.cpp, default; or f32)
The API key may also come from the APRENDER_API_KEY environment variable.`;

function int(name: string, v: string | undefined, lo: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo) {
    console.error(`serve: --${name} must be an integer ≥ ${lo}, got '${v}'.\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        model: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        parallel: { type: "string" },
        ctx: { type: "string" },
        "api-key": { type: "string" },
        cors: { type: "string" },
        queue: { type: "string" },
        "max-tokens": { type: "string" },
        backend: { type: "string", default: "cpu" },
        activations: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`serve: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (values.backend !== "cpu" && values.backend !== "webgpu") {
    console.error(`serve: --backend must be cpu or webgpu, got '${values.backend}'.\n${USAGE}`);
    Deno.exit(2);
  }
  const acts = values.activations ?? (values.backend === "cpu" ? "ggml" : "f32");
  if (acts !== "ggml" && acts !== "f32") {
    console.error(`serve: --activations must be ggml or f32, got '${acts}'.\n${USAGE}`);
    Deno.exit(2);
  }
  const path = values.model === undefined
    ? DEFAULT_MODEL
    : await resolveModel(values.model, { onProgress: progressBar() });
  const parallel = int("parallel", values.parallel, 1) ?? 1;
  const ctx = int("ctx", values.ctx, 2);
  const t0 = performance.now();
  let last = -1;
  const bar = (a: number, b: number) => {
    const w = 30, f = Math.round((w * a) / Math.max(b, 1));
    if (f === last) return;
    last = f;
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `\rloading [${"#".repeat(f)}${" ".repeat(w - f)}] ${
          (100 * a / Math.max(b, 1)).toFixed(0)
        }%`,
      ),
    );
  };
  const model = await loadModel(path, { contextLength: ctx, activations: acts, onProgress: bar });
  console.error(
    `\n${
      basename(path)
    }: ${model.config.arch}, ${model.config.layers} layers, ctx ${model.contextLength}, ` +
      `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  let gpu: GpuDecoder | undefined;
  if (values.backend === "webgpu") {
    const why = parallel > 1
      ? "the GPU decoder takes one slot (--parallel 1)"
      : await webgpuUnavailable();
    if (!why) {
      try {
        gpu = await loadGpuDecoder(path, Math.min(ctx ?? model.contextLength, 4096));
        console.error(`--backend webgpu: decoding on the GPU (context ${gpu.contextLength})`);
      } catch (e) {
        console.error(`--backend webgpu: ${(e as Error).message}; serving on the CPU`);
      }
    } else console.error(`--backend webgpu: ${why}; serving on the CPU`);
  }
  const srv = serve({
    gpu,
    model,
    modelName: basename(path).replace(/\.gguf$/, ""),
    port: int("port", values.port, 0) ?? 8080,
    hostname: values.host ?? "127.0.0.1",
    parallel,
    contextLength: ctx ?? model.contextLength,
    apiKey: values["api-key"] ?? Deno.env.get("APRENDER_API_KEY"),
    cors: values.cors,
    maxQueue: int("queue", values.queue, 0),
    maxTokens: int("max-tokens", values["max-tokens"], 1),
    onListen: ({ hostname, port }) =>
      console.error(
        `serving on http://${
          hostname.includes(":") ? `[${hostname}]` : hostname
        }:${port} (${parallel} slots)`,
      ),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) Deno.exit(130);
    stopping = true;
    console.error("\nshutting down: finishing running answers (signal again to quit now)");
    srv.shutdown().then(() => {
      gpu?.dispose();
      model.dispose();
      Deno.exit(0);
    });
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
