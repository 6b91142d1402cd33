/**
 * What the OpenBLAS plugin's kernel modules share: the library state the probe fills, and
 * pointer helpers over host storage.
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
import { HostStorage } from "../../core/backend/host.ts";
import { gemm as splitGemm, type SplitTarget } from "./split.ts";
import type { GemmArgs } from "./gemm_job.ts";
import type { BlasLibrary, BlasLoad } from "./ffi.ts";

// ---- library state ---------------------------------------------------------------------------

/** The plugin's mutable state, shared by its kernel modules. */
export const state: {
  /** The library, once probed. */
  load: BlasLoad | null;
  /** The GEMM's thread count (`setBlasThreads`); OpenBLAS's own count outside a split GEMM. */
  blasN: number;
  /** What the pool's split GEMM calls. */
  target: SplitTarget | null;
  /** Which LAPACK routines f32 inputs use (`setLapackF32Precision`). */
  f32Prec: "double" | "single";
} = { load: null, blasN: 1, target: null, f32Prec: "double" };

/** The loaded library (throws before a successful probe). */
export function lib(): BlasLibrary {
  if (!state.load?.ok) throw new Error("openblas: the library is not loaded");
  return state.load.lib;
}

// ---- pointers --------------------------------------------------------------------------------

export const BYTES = { f32: 4, f64: 8 } as const;

export function at(base: Deno.PointerObject, elem: number, bytes: number): Deno.PointerValue {
  return elem === 0 ? base : Deno.UnsafePointer.offset(base, elem * bytes);
}

export function ptr(a: ArrayBufferView): Deno.PointerValue {
  return Deno.UnsafePointer.of(a as Uint8Array);
}

/**
 * C = alpha·op(A)·op(B) + beta·C through CBLAS (row-major), split over the CPU pool when large
 * (./split.ts).
 */
export function blasGemm(dbl: boolean, ...args: GemmArgs): void {
  splitGemm(state.target!, state.blasN, dbl, ...args);
}

/** The typed array of an f32/f64 host tensor's whole storage. */
export function view(t: TensorView): Float32Array | Float64Array {
  const s = t.storage as HostStorage;
  const b = t.dtype === "f32" ? 4 : 8;
  const len = Math.floor(s.byteLength / b);
  return t.dtype === "f32"
    ? new Float32Array(s.buffer as ArrayBuffer, s.byteOffset, len)
    : new Float64Array(s.buffer as ArrayBuffer, s.byteOffset, len);
}

export function isHost(t: TensorView): boolean {
  return t.storage instanceof HostStorage;
}
