/**
 * llama.cpp's own sampler steps (libllama from @node-llama-cpp/linux-x64, opened with
 * Deno.dlopen) applied to a candidate list, as the reference for tests/llm/sampling_test.ts.
 * A test oracle, never a runtime dependency.
 */
import type { SamplerOptions } from "../../llm/mod.ts";
import { pinLibrary } from "./pin_library.ts";

const LIB = ".refs/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so";

const SYMBOLS = {
  llama_sampler_init_logit_bias: { parameters: ["i32", "i32", "buffer"], result: "pointer" },
  llama_sampler_init_penalties: {
    parameters: ["i32", "i32", "f32", "f32", "f32"],
    result: "pointer",
  },
  llama_sampler_init_top_k: { parameters: ["i32"], result: "pointer" },
  llama_sampler_init_typical: { parameters: ["f32", "usize"], result: "pointer" },
  llama_sampler_init_top_p: { parameters: ["f32", "usize"], result: "pointer" },
  llama_sampler_init_min_p: { parameters: ["f32", "usize"], result: "pointer" },
  llama_sampler_init_temp: { parameters: ["f32"], result: "pointer" },
  llama_sampler_accept: { parameters: ["pointer", "i32"], result: "void" },
  llama_sampler_apply: { parameters: ["pointer", "buffer"], result: "void" },
  llama_sampler_free: { parameters: ["pointer"], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Lib | null | undefined;

/** libllama's sampler functions, or null when the library is not installed. */
export function llamaSamplerLib(): Lib | null {
  if (lib !== undefined) return lib;
  try {
    Deno.statSync(LIB);
    pinLibrary(Deno.realPathSync(LIB));
    lib = Deno.dlopen(LIB, SYMBOLS).symbols;
  } catch {
    lib = null;
  }
  return lib;
}

/**
 * Apply llama.cpp's logit_bias → penalties → top_k → typical → top_p → min_p → temp samplers to
 * all tokens; returns the surviving candidates in llama.cpp's order.
 */
export function llamaFilter(
  logits: Float32Array,
  history: number[],
  o: SamplerOptions,
): { ids: number[]; logits: number[] } {
  const L = llamaSamplerLib()!;
  const n = logits.length;
  const data = new ArrayBuffer(12 * n);
  const dv = new DataView(data);
  for (let i = 0; i < n; i++) {
    dv.setInt32(12 * i, i, true);
    dv.setFloat32(12 * i + 4, logits[i], true);
    dv.setFloat32(12 * i + 8, 0, true);
  }
  const dataPtr = Deno.UnsafePointer.of(new Uint8Array(data));
  // llama_token_data_array: {data*, size_t size, int64 selected, bool sorted}
  const arr = new ArrayBuffer(32);
  const av = new DataView(arr);
  av.setBigUint64(0, BigInt(Deno.UnsafePointer.value(dataPtr)), true);
  av.setBigUint64(8, BigInt(n), true);
  av.setBigInt64(16, -1n, true);
  av.setUint8(24, 0);
  const bias = Object.entries(o.logitBias ?? {});
  const biasBuf = new Uint8Array(8 * Math.max(1, bias.length));
  const bv = new DataView(biasBuf.buffer);
  bias.forEach(([k, v], i) => {
    bv.setInt32(8 * i, Number(k), true);
    bv.setFloat32(8 * i + 4, v, true);
  });
  const minKeep = BigInt(o.minKeep ?? 0);
  const chain = [
    L.llama_sampler_init_logit_bias(n, bias.length, biasBuf),
    L.llama_sampler_init_penalties(
      n,
      o.penaltyLastN ?? 64,
      o.repeatPenalty ?? 1,
      o.frequencyPenalty ?? 0,
      o.presencePenalty ?? 0,
    ),
    L.llama_sampler_init_top_k(o.topK ?? 40),
    L.llama_sampler_init_typical(o.typicalP ?? 1, minKeep),
    L.llama_sampler_init_top_p(o.topP ?? 0.95, minKeep),
    L.llama_sampler_init_min_p(o.minP ?? 0.05, minKeep),
    L.llama_sampler_init_temp(o.temperature ?? 0.8),
  ];
  for (const t of history) L.llama_sampler_accept(chain[1], t);
  const arrBytes = new Uint8Array(arr);
  for (const s of chain) L.llama_sampler_apply(s, arrBytes);
  const size = Number(av.getBigUint64(8, true));
  // samplers may point `data` at their own buffer (top-p's sort buffer): read from the pointer
  const ptr = Deno.UnsafePointer.create(av.getBigUint64(0, true))!;
  const view = new Deno.UnsafePointerView(ptr);
  const ids: number[] = [], out: number[] = [];
  for (let i = 0; i < size; i++) {
    ids.push(view.getInt32(12 * i));
    out.push(view.getFloat32(12 * i + 4));
  }
  for (const s of chain) L.llama_sampler_free(s);
  return { ids, logits: out };
}
