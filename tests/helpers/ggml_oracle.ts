/**
 * llama.cpp's own quantizers and decoders (`libggml-base.so` from the npm package
 * `@node-llama-cpp/linux-x64@3.22.1`, installed under `.refs/` by `.ci/refs.sh`), opened with
 * `Deno.dlopen`: the reference our codecs are compared with. A test oracle only.
 *
 * @module
 */
import { pinLibrary } from "./pin_library.ts";

const LIB = new URL(
  "../../.refs/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so",
  import.meta.url,
);

/** ggml type names whose `quantize_row_<name>_ref` the library exports. */
export const REF_QUANTIZERS = [
  "q4_0",
  "q4_1",
  "q5_0",
  "q5_1",
  "q8_0",
  "q8_1",
  "q2_K",
  "q3_K",
  "q4_K",
  "q5_K",
  "q6_K",
  "q8_K",
  "iq4_nl",
  "iq4_xs",
  "tq1_0",
  "tq2_0",
  "mxfp4",
] as const;

/** ggml type names whose `dequantize_row_<name>` the library exports. */
export const REF_DEQUANTIZERS = [
  "q4_0",
  "q4_1",
  "q5_0",
  "q5_1",
  "q8_0",
  "q2_K",
  "q3_K",
  "q4_K",
  "q5_K",
  "q6_K",
  "q8_K",
  "iq2_xxs",
  "iq2_xs",
  "iq2_s",
  "iq3_xxs",
  "iq3_s",
  "iq1_s",
  "iq1_m",
  "iq4_nl",
  "iq4_xs",
  "tq1_0",
  "tq2_0",
  "mxfp4",
] as const;

const row = { parameters: ["buffer", "buffer", "i64"], result: "void" } as const;

function symbols() {
  const s: Record<string, typeof row> = {};
  for (const t of REF_QUANTIZERS) s[`quantize_row_${t}_ref`] = row;
  for (const t of REF_DEQUANTIZERS) s[`dequantize_row_${t}`] = row;
  return {
    ...s,
    ggml_fp16_to_fp32_row: row,
    ggml_fp32_to_fp16_row: row,
    ggml_bf16_to_fp32_row: row,
    ggml_fp32_to_bf16_row_ref: row,
    gguf_init_from_file: {
      parameters: ["buffer", { struct: ["u8", "pointer"] }],
      result: "pointer",
    },
    gguf_free: { parameters: ["pointer"], result: "void" },
    gguf_get_n_tensors: { parameters: ["pointer"], result: "i64" },
    gguf_get_n_kv: { parameters: ["pointer"], result: "i64" },
    gguf_get_tensor_offset: { parameters: ["pointer", "i64"], result: "usize" },
    gguf_get_tensor_type: { parameters: ["pointer", "i64"], result: "i32" },
    gguf_get_tensor_name: { parameters: ["pointer", "i64"], result: "pointer" },
    gguf_get_data_offset: { parameters: ["pointer"], result: "usize" },
    gguf_get_key: { parameters: ["pointer", "i64"], result: "pointer" },
    gguf_get_alignment: { parameters: ["pointer"], result: "usize" },
  } as const;
}

let lib: ReturnType<typeof open> | null = null;
const open = () => {
  pinLibrary(LIB.pathname);
  return Deno.dlopen(LIB, symbols());
};

/** The opened library (once per process). */
export function ggml(): ReturnType<typeof open>["symbols"] {
  if (lib === null) lib = open();
  return lib.symbols;
}

/**
 * Is the oracle library installed (`.ci/refs.sh`)? Tests that need it are ignored when not, except
 * under CI=true, where a missing reference is a failure.
 */
export function haveGgml(): boolean {
  try {
    Deno.statSync(LIB);
    return true;
  } catch {
    if (Deno.env.get("CI") === "true") {
      throw new Error(`CI=true but ${LIB.pathname} is missing: run .ci/refs.sh`);
    }
    return false;
  }
}

type Sym = (a: Uint8Array | Float32Array, b: Uint8Array | Float32Array, n: bigint) => void;

/** llama.cpp's `quantize_row_<type>_ref` of `x` into a fresh byte array of `nbytes`. */
export function refQuantize(type: string, x: Float32Array, nbytes: number): Uint8Array {
  const out = new Uint8Array(nbytes);
  const f = (ggml() as unknown as Record<string, Sym>)[`quantize_row_${type}_ref`];
  f(x, out, BigInt(x.length));
  return out;
}

/** llama.cpp's `dequantize_row_<type>` of `n` elements from `bytes`. */
export function refDequantize(type: string, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const f = (ggml() as unknown as Record<string, Sym>)[`dequantize_row_${type}`];
  f(bytes, out, BigInt(n));
  return out;
}

/** What llama.cpp's `gguf_init_from_file` makes of a file (null when it rejects it). */
export function ggmlOpenGguf(path: string): {
  nKv: number;
  keys: string[];
  alignment: number;
  dataOffset: number;
  tensors: { name: string; type: number; offset: number }[];
} | null {
  const g = ggml();
  const params = new Uint8Array(16);
  params[0] = 1; // no_alloc: read the header only
  const ctx = g.gguf_init_from_file(new TextEncoder().encode(path + "\0"), params);
  if (ctx === null) return null;
  try {
    const str = (p: Deno.PointerValue) => Deno.UnsafePointerView.getCString(p!);
    const nKv = Number(g.gguf_get_n_kv(ctx));
    const keys = Array.from({ length: nKv }, (_, i) => str(g.gguf_get_key(ctx, BigInt(i))));
    const n = Number(g.gguf_get_n_tensors(ctx));
    const tensors = Array.from({ length: n }, (_, i) => ({
      name: str(g.gguf_get_tensor_name(ctx, BigInt(i))),
      type: g.gguf_get_tensor_type(ctx, BigInt(i)),
      offset: Number(g.gguf_get_tensor_offset(ctx, BigInt(i))),
    }));
    return {
      nKv,
      keys,
      alignment: Number(g.gguf_get_alignment(ctx)),
      dataOffset: Number(g.gguf_get_data_offset(ctx)),
      tensors,
    };
  } finally {
    g.gguf_free(ctx);
  }
}
