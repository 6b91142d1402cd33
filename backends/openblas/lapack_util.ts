/**
 * LAPACK plumbing of the OpenBLAS plugin's linalg kernels: precision choice, routine lookup,
 * argument slots in native memory, column-major workspaces, and the kernel wrapper (float
 * operands in host memory).
 *
 * @module
 */
import type { KernelCall, KernelEntry, TensorView } from "../../core/backend/plugin.ts";
import { stridedOffsets } from "../../core/shape.ts";
import { type LapackFn, lapackFn, type LapackName } from "./ffi.ts";
import type { HostStorage } from "../../core/backend/host.ts";
import { isHost, lib, ptr, state } from "./shared.ts";

// ---- LAPACK helpers --------------------------------------------------------------------------

export type Real = Float32Array | Float64Array;

/** The precision a LAPACK call runs in: its routine prefix (work arrays: {@link arr}). */
export interface Prec {
  prefix: "s" | "d";
}

export const SINGLE: Prec = { prefix: "s" };
export const DOUBLE: Prec = { prefix: "d" };

export function precOf(t: TensorView): Prec {
  return t.dtype === "f32" && state.f32Prec === "single" ? SINGLE : DOUBLE;
}

export function fn(p: Prec, name: LapackName): LapackFn {
  return lapackFn(lib(), p.prefix, name);
}

/**
 * Scalar arguments by reference. Module-level arrays: never collected, never moved, so their
 * pointers stay valid for the call (LAPACK calls are synchronous and not re-entered).
 */
/**
 * A typed array whose bytes live outside the JS heap. V8 keeps small typed arrays (≤ 64 bytes) in
 * the heap, where a garbage collection may move them between taking their address and the FFI
 * call, and LAPACK then writes through a stale pointer (a crash in 1 of ~5 test runs); every
 * array handed to OpenBLAS by address is made here, over its own ArrayBuffer.
 */
export function native<A extends ArrayBufferView>(
  Arr: { new (b: ArrayBuffer, offset: number, length: number): A; BYTES_PER_ELEMENT: number },
  n: number,
): A {
  return new Arr(new ArrayBuffer(Math.max(128, n * Arr.BYTES_PER_ELEMENT)), 0, n);
}

/** A work array of precision `p`, outside the JS heap ({@link native}). */
export function arr(p: Prec, n: number): Real {
  return p.prefix === "s" ? native(Float32Array, n) : native(Float64Array, n);
}

export const INTS = native(Int32Array, 32);
export const REAL64 = native(Float64Array, 1);
export const REAL32 = native(Float32Array, 1);
export const CHARS = native(Uint8Array, 8);
export const ONE = native(Float64Array, 1); // a dummy array argument for unreferenced outputs
let nextInt = 0;
/** Slots of this argument list's output integers (INFO, RANK), in order. */
export const outSlots: number[] = [];

/** Hidden CHARACTER length (gfortran's size_t). */
export const L1 = 1n;

/** Reset the integer scratch; call at the start of each LAPACK call's argument list. */
export function args(): void {
  nextInt = 0;
  outSlots.length = 0;
}

/** An integer argument: stores `v` and returns its address. */
export function int(v: number): Deno.PointerValue {
  if (nextInt === INTS.length) throw new Error("openblas: integer scratch exhausted");
  INTS[nextInt] = v;
  return ptr(INTS.subarray(nextInt++, nextInt));
}

/** An output integer argument (INFO, RANK); read it after the call with {@link outAt}. */
export function outInt(): Deno.PointerValue {
  outSlots.push(nextInt);
  return int(0);
}

/** The value of the i-th {@link outInt} argument of the last argument list, after the call. */
export function outAt(i = 0): number {
  return INTS[outSlots[i]];
}

/** A CHARACTER*1 argument. */
export function char(c: string): Deno.PointerValue {
  const i = "NVLUASTO".indexOf(c);
  CHARS[i] = c.charCodeAt(0);
  return ptr(CHARS.subarray(i, i + 1));
}

/** A REAL / DOUBLE PRECISION argument. */
export function real(p: Prec, v: number): Deno.PointerValue {
  if (p === SINGLE) {
    REAL32[0] = v;
    return ptr(REAL32);
  }
  REAL64[0] = v;
  return ptr(REAL64);
}

/** Matrix count of a batch of matrices (all axes but the last two). */
export function batchCount(t: TensorView): number {
  let b = 1;
  for (let i = 0; i < t.ndim - 2; i++) b *= t.shape[i];
  return b;
}

/** Storage offsets of each matrix of `t` (the last two axes) in C order of the batch. */
export function matrixOffsets(t: TensorView): Int32Array | Float64Array {
  const r = t.ndim;
  return stridedOffsets(t.shape.slice(0, r - 2), t.strides.slice(0, r - 2), t.offset);
}

/** Copy the rows × cols matrix of `src` at `base` (strides s0, s1) column-major into `dst`. */
export function toColMajor(
  src: Real,
  base: number,
  rows: number,
  cols: number,
  s0: number,
  s1: number,
  dst: Real,
  ld: number,
): void {
  for (let j = 0; j < cols; j++) {
    const o = base + j * s1, d = j * ld;
    for (let i = 0; i < rows; i++) dst[d + i] = src[o + i * s0];
  }
}

/** Load matrix `bi` of `t` into `dst` column-major with leading dimension `ld`. */
export function loadMatrix(
  t: TensorView,
  data: Real,
  offs: ArrayLike<number>,
  bi: number,
  dst: Real,
  ld = 0,
) {
  const r = t.ndim;
  const rows = t.shape[r - 2], cols = t.shape[r - 1];
  toColMajor(data, offs[bi], rows, cols, t.strides[r - 2], t.strides[r - 1], dst, ld || rows);
}

/** Store the rows × cols column-major `src` (leading dim `ld`) row-major at `o[off..]`. */
export function storeRowMajor(
  o: Real,
  off: number,
  rows: number,
  cols: number,
  src: Real,
  ld: number,
) {
  for (let i = 0; i < rows; i++) {
    const d = off + i * cols;
    for (let j = 0; j < cols; j++) o[d + j] = src[i + j * ld];
  }
}

export function allFinite(a: Real, len: number): boolean {
  for (let i = 0; i < len; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** The optimal LWORK a workspace query (LWORK = −1) left in `work[0]`. */
export function lworkOf(work: Real): number {
  return Math.max(1, Math.ceil(work[0]));
}

export function writeInfo(t: TensorView, bi: number, v: number): void {
  const s = t.storage as HostStorage;
  new Int32Array(s.buffer, s.byteOffset, s.byteLength >> 2)[t.offset + bi] = v;
}

/**
 * A LAPACK kernel: runs when LAPACK loaded, every input is f32/f64 (the op casts), and no input
 * is empty (empty matrices are left to the scalar reference, which defines their results).
 */
export function lapackKernel(run: (call: KernelCall) => void): KernelEntry {
  return {
    supports(call: KernelCall): boolean {
      if (!state.load?.ok || !state.load.lapack) return false;
      return call.inputs.every((t) =>
        (t.dtype === "f32" || t.dtype === "f64") && t.size > 0 && t.ndim >= 2 && isHost(t)
      ) && call.outputs.every(isHost);
    },
    run,
  };
}
