/**
 * llama.cpp's CPU dot products (`ggml_vec_dot_<w>_<a>_generic` from `libggml-cpu-x64.so` of the npm
 * package `@node-llama-cpp/linux-x64@3.22.1`, next to `libggml-base.so` under `.refs/`): the plain-C
 * kernels every ggml CPU build falls back to, the same integer block dots and scalings as its SIMD
 * ones. A test oracle only.
 *
 * @module
 */
import { pinLibrary } from "./pin_library.ts";

const DIR = new URL(
  "../../.refs/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/",
  import.meta.url,
);
const LIB = new URL("libggml-cpu-x64.so", DIR);

/** Weight type → ggml's dot kernel (`vec_dot_type` suffix included). */
export const GGML_VEC_DOT = {
  q4_0: "q4_0_q8_0",
  q4_1: "q4_1_q8_1",
  q5_0: "q5_0_q8_0",
  q5_1: "q5_1_q8_1",
  q8_0: "q8_0_q8_0",
  q2_k: "q2_K_q8_K",
  q3_k: "q3_K_q8_K",
  q4_k: "q4_K_q8_K",
  q5_k: "q5_K_q8_K",
  q6_k: "q6_K_q8_K",
  iq4_nl: "iq4_nl_q8_0",
  iq4_xs: "iq4_xs_q8_K",
} as const;

const dot = {
  parameters: ["i32", "buffer", "usize", "buffer", "usize", "buffer", "usize", "i32"],
  result: "void",
} as const;

function symbols() {
  const s: Record<string, typeof dot> = {};
  for (const v of Object.values(GGML_VEC_DOT)) s[`ggml_vec_dot_${v}_generic`] = dot;
  return { ...s, ggml_cpu_init: { parameters: [], result: "void" } } as const;
}

let lib: ReturnType<typeof open> | null = null;
const open = () => {
  pinLibrary(new URL("libggml-base.so", DIR).pathname);
  pinLibrary(LIB.pathname);
  const l = Deno.dlopen(LIB, symbols());
  l.symbols.ggml_cpu_init(); // fills the f16 → f32 table the generic kernels read
  return l;
};

/**
 * llama.cpp's dot of one weight row (`w`, `n` elements of the weight type) with one activation row
 * already quantized to the type's `vec_dot_type` (`a`).
 */
export function ggmlVecDot(
  type: keyof typeof GGML_VEC_DOT,
  n: number,
  w: Uint8Array,
  a: Uint8Array,
): number {
  if (lib === null) lib = open();
  const out = new Float32Array(1);
  const f = (lib.symbols as unknown as Record<string, (...args: unknown[]) => void>)[
    `ggml_vec_dot_${GGML_VEC_DOT[type]}_generic`
  ];
  f(n, out, 0n, w, 0n, a, 0n, 1);
  return out[0];
}
