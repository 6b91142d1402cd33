/**
 * Tensors of block-quantized storage types: the one view guard (a view may never cut inside a
 * block), the raw byte runs a view covers, and the set of kernels that read block operands.
 *
 * A block tensor counts shape, strides and offset in elements like any tensor; its storage holds
 * whole blocks of `blockSize` elements in `blockBytes` bytes (GGUF's layout), so the last axis
 * must hold whole blocks, in order (stride 1), and every other stride and the offset must land on
 * a block boundary.
 *
 * @module
 */
import {
  ALL_BLOCK_DTYPES,
  BLOCK_DTYPES,
  type BlockDType,
  byteLength,
  byteOffset,
  isBlockDType,
  type StorageDType,
} from "./dtype.ts";
import { DTypeError, fmtShape } from "./errors.ts";
import { contiguousStrides, isContiguous } from "./shape.ts";

/**
 * The kernels that accept block-type operands: those the table rows name (dequantize,
 * quantize). The dispatcher refuses a block operand for every other kernel.
 */
export const BLOCK_KERNELS: ReadonlySet<string> = new Set([
  ...ALL_BLOCK_DTYPES.flatMap((d) => {
    const r = BLOCK_DTYPES[d];
    return r.quantize === null ? [r.dequantize] : [r.dequantize, r.quantize];
  }),
  // the packed-weight product (core/ops/quant_linear.ts) reads block weights by their dtype
  "quantLinear",
]);

/**
 * Throw a DTypeError unless a view of block type `d` with this geometry keeps every block whole.
 */
export function checkBlockView(
  d: BlockDType,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): void {
  const bs = BLOCK_DTYPES[d].blockSize, n = shape.length;
  const fail = (why: string): never => {
    throw new DTypeError(
      `view: a ${d} view of shape ${fmtShape(shape)}, strides ${fmtShape(strides)} and offset ` +
        `${offset} would cut inside its ${bs}-element blocks: ${why}. Hint: views of a block ` +
        `type may reshape, select or slice whole rows (the last axis kept whole blocks, in ` +
        `order); dequantize it first (astype("f32")) for anything else.`,
    );
  };
  if (n === 0) fail("a block type has no 0-d (single element) view");
  const last = shape[n - 1];
  if (last % bs !== 0) fail(`the last axis has ${last} elements, not a multiple of ${bs}`);
  if (last > 0 && strides[n - 1] !== 1) {
    fail(`the last axis has stride ${strides[n - 1]}, but a block's elements are consecutive`);
  }
  for (let a = 0; a < n - 1; a++) {
    if (shape[a] > 1 && strides[a] % bs !== 0) {
      fail(`axis ${a} has stride ${strides[a]}, not a multiple of ${bs}`);
    }
  }
  if (offset % bs !== 0) fail(`the offset ${offset} is not a multiple of ${bs}`);
}

/**
 * The contiguous byte runs, in C order, that hold the elements of a view (one run when it is
 * contiguous; one per row of the last axis otherwise): `[byteOffset, byteLength]` pairs. Element
 * dtypes must be contiguous here (their strided views are copied by a kernel instead).
 */
export function byteRuns(
  dtype: StorageDType,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): [number, number][] {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return [];
  if (isContiguous(shape, strides)) {
    return [[byteOffset(dtype, offset), byteLength(dtype, size)]];
  }
  if (!isBlockDType(dtype)) {
    throw new DTypeError(`byteRuns: a strided ${dtype} view needs a copy, not byte runs.`);
  }
  const n = shape.length, last = shape[n - 1], rows = size / last;
  const rowStrides = contiguousStrides(shape.slice(0, n - 1));
  const runs: [number, number][] = [];
  const len = byteLength(dtype, last);
  for (let r = 0; r < rows; r++) {
    let off = offset, rem = r;
    for (let a = 0; a < n - 1; a++) {
      const q = Math.floor(rem / rowStrides[a]);
      rem -= q * rowStrides[a];
      off += q * strides[a];
    }
    runs.push([byteOffset(dtype, off), len]);
  }
  return runs;
}

/** The byte runs of a view (C order) and the storage span [start, end) that holds them all. */
export function spanOf(
  t: { dtype: StorageDType; shape: readonly number[]; strides: readonly number[]; offset: number },
): [[number, number][], number, number] {
  const runs = byteRuns(t.dtype, t.shape, t.strides, t.offset);
  let start = Infinity, end = 0;
  for (const [o, n] of runs) {
    start = Math.min(start, o);
    end = Math.max(end, o + n);
  }
  return runs.length ? [runs, start, end] : [runs, 0, 0];
}

/** The runs' bytes, in order, out of `span` (the storage bytes from `start`). */
export function gatherRuns(runs: [number, number][], start: number, span: Uint8Array): Uint8Array {
  if (runs.length === 1) return span.slice(0, runs[0][1]);
  const out = new Uint8Array(runs.reduce((a, r) => a + r[1], 0));
  let at = 0;
  for (const [o, n] of runs) {
    out.set(span.subarray(o - start, o - start + n), at);
    at += n;
  }
  return out;
}

/** The error `dataSync`/`data` give a block tensor: its elements are not stored one by one. */
export function blockReadError(op: string, d: BlockDType): DTypeError {
  return new DTypeError(
    `${op}: ${d} is a block-quantized storage type, so there are no elements to read as a ` +
      `typed array. Hint: t.astype("f32") dequantizes it; t.bytesSync() gives the raw blocks.`,
  );
}
