/**
 * `copy`: write the input, broadcast to the output's shape and cast to its dtype, into the output
 * (which may be a strided view). The primitive behind contiguous(), astype(), concat, pad, tile...
 *
 * @module
 */
import type { KernelCall } from "../../../core/backend/plugin.ts";
import { bigintToNumber } from "../../../core/dtype.ts";
import { offsets, readF64, typed, writeF64 } from "../util.ts";

/** Scalar `copy` kernel. */
export function copy(call: KernelCall): void {
  const [src] = call.inputs;
  const [dst] = call.outputs;
  if (src.dtype === dst.dtype) {
    // Raw element copy: exact for every dtype, i64 included. f16/f32 go through integer views
    // of the same width, because reading them as JS numbers quiets signaling NaNs' payloads.
    const a = bitsView(src), b = bitsView(dst);
    const so = offsets(src, dst.shape), dOffs = offsets(dst);
    const n = dst.size;
    for (let i = 0; i < n; i++) {
      b[dOffs === null ? dst.offset + i : dOffs[i]] = a[so === null ? src.offset + i : so[i]];
    }
    return;
  }
  if (src.dtype === "i64") {
    // Exact: narrower ints wrap from all 64 bits, floats round once (not via float64 first).
    const a = typed(src) as BigInt64Array, so = offsets(src, dst.shape);
    const vals = new Float64Array(dst.size);
    for (let i = 0; i < vals.length; i++) {
      vals[i] = bigintToNumber(a[so === null ? src.offset + i : so[i]], dst.dtype);
    }
    writeF64(dst, vals);
    return;
  }
  writeF64(dst, readF64(src, dst.shape));
}

/** The raw elements of `t`; f16/f32 as same-width unsigned ints so that NaN bits survive. */
function bitsView(t: KernelCall["inputs"][number]) {
  const a = typed(t);
  if (a instanceof Float32Array) return new Uint32Array(a.buffer, a.byteOffset, a.length);
  if (a instanceof Float16Array) return new Uint16Array(a.buffer, a.byteOffset, a.length);
  return a;
}
