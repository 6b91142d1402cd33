/**
 * MaxPool's optional `Indices` output (2-D): for each output, the flat position in the input of
 * its window's first maximum — NCHW row-major ((n·C + c)·H + h)·W + w, or with `storage_order`
 * 1 (n·C + c)·H·W + h + w·H (column-major within the plane, as onnx's reference). No core op returns pooling argmax
 * positions, so this is a loop over the host values (CPU tensors).
 *
 * @module
 */
import { ShapeError } from "../../../core/errors.ts";
import { fromTyped } from "../../../core/ops/creation.ts";
import { contiguous } from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";

/**
 * Indices (i64, shape (N, C, OH, OW)) of the maxima of `x` (N, C, H, W) over windows `k` with
 * `strides`, `dil`ations and begin pads `pads`.
 */
export function maxPoolIndices(
  x: Tensor,
  out: readonly number[],
  k: readonly number[],
  strides: readonly number[],
  dil: readonly number[],
  pads: readonly number[],
  storageOrder: number,
  where: string,
): Tensor {
  if (x.device !== "cpu") {
    throw new ShapeError(`${where}: the Indices output is computed on the CPU (got ${x.device}).`);
  }
  const c = contiguous(x);
  const v = c.dataSync() as ArrayLike<number>;
  c.dispose();
  const [N, C, H, W] = x.shape, [OH, OW] = [out[2], out[3]];
  const idx = new BigInt64Array(N * C * OH * OW);
  let o = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, o++) {
        let best = -Infinity, at = -1;
        for (let kh = 0; kh < k[0]; kh++) {
          const h = oh * strides[0] - pads[0] + kh * dil[0];
          if (h < 0 || h >= H) continue;
          for (let kw = 0; kw < k[1]; kw++) {
            const w = ow * strides[1] - pads[1] + kw * dil[1];
            if (w < 0 || w >= W) continue;
            const val = v[base + h * W + w];
            if (at < 0 || val > best) {
              best = val;
              at = h * W + w;
            }
          }
        }
        const local = at < 0 ? 0 : storageOrder === 1 ? (at % W) * H + Math.floor(at / W) : at;
        idx[o] = BigInt(base + local);
      }
    }
  }
  return fromTyped(idx, [N, C, OH, OW], "i64");
}
