/**
 * Line geometry of a strided tensor for the CPU plugins' reductions, scans, sorts and softmax:
 * the kept axes as one start offset per line, the reduced axes as one strided line when they
 * coalesce, else as a table of offsets.
 *
 * @module
 */
import { stridedOffsets } from "../../core/shape.ts";

/** Storage offsets (an Int32Array unless they pass 2^31). */
export type Offsets = Int32Array | Float64Array;

/** How to walk a tensor as lines: one base offset per kept index, and the reduced sub-space. */
export interface Geometry {
  /** Base offset of each line, in C order of the kept axes. */
  outer: Offsets;
  /** Number of elements per line (product of the reduced lengths). */
  n: number;
  /** Stride of the line when the reduced axes coalesce to one (then `inner` is null). */
  step: number;
  /** Offsets within a line, C order of the reduced axes, when they do not coalesce. */
  inner: Offsets | null;
}

/** Split `shape` into kept axes (outer) and the reduced `axes` (a line, coalesced if possible). */
export function geometry(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  axes: readonly number[],
): Geometry {
  const red = new Set(axes);
  const ks: number[] = [], kst: number[] = [], cs: number[] = [], cst: number[] = [];
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    if (!red.has(i)) {
      ks.push(shape[i]);
      kst.push(strides[i]);
      continue;
    }
    n *= shape[i];
    if (shape[i] === 1) continue;
    const last = cs.length - 1;
    if (last >= 0 && cst[last] === strides[i] * shape[i]) {
      cs[last] *= shape[i];
      cst[last] = strides[i];
    } else {
      cs.push(shape[i]);
      cst.push(strides[i]);
    }
  }
  const outer = stridedOffsets(ks, kst, offset);
  if (cs.length <= 1) return { outer, n, step: cs.length ? cst[0] : 0, inner: null };
  return { outer, n, step: 0, inner: stridedOffsets(cs, cst, 0) };
}
