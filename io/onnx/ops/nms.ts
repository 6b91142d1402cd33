/**
 * ONNX `NonMaxSuppression`: greedy selection per (batch, class) on the host over the box and
 * score data (a sequential, data-dependent algorithm; there is no core op to build it from).
 *
 * @module
 */
import { fromTyped } from "../../../core/ops/creation.ts";
import { attrNum, defineOps, floats, ints, need } from "./registry.ts";

type Box = [number, number, number, number];

/** Whether box `a` suppresses box `b`: IoU above the threshold (the operator's reference rules). */
function suppress(a: Box, b: Box, center: boolean, thr: number): boolean {
  const span = (p: number, q: number) => (p <= q ? [p, q] : [q, p]);
  let [ax0, ax1] = span(a[1], a[3]), [bx0, bx1] = span(b[1], b[3]);
  let [ay0, ay1] = span(a[0], a[2]), [by0, by1] = span(b[0], b[2]);
  if (center) {
    [ax0, ax1] = [a[0] - a[2] / 2, a[0] + a[2] / 2];
    [bx0, bx1] = [b[0] - b[2] / 2, b[0] + b[2] / 2];
    [ay0, ay1] = [a[1] - a[3] / 2, a[1] + a[3] / 2];
    [by0, by1] = [b[1] - b[3] / 2, b[1] + b[3] / 2];
  }
  const ix = Math.min(ax1, bx1) - Math.max(ax0, bx0);
  const iy = Math.min(ay1, by1) - Math.max(ay0, by0);
  if (ix <= 0 || iy <= 0) return false;
  const inter = ix * iy;
  const areaA = (ax1 - ax0) * (ay1 - ay0), areaB = (bx1 - bx0) * (by1 - by0);
  const union = areaA + areaB - inter;
  if (areaA <= 0 || areaB <= 0 || union <= 0) return false;
  return inter / union > thr;
}

defineOps({
  NonMaxSuppression: (inp, ctx) => {
    const boxes = need(inp, 0, ctx), scores = need(inp, 1, ctx);
    const maxOut = inp[2] === undefined || inp[2].size === 0 ? 0 : ints(inp[2])[0];
    const iou = inp[3] === undefined || inp[3].size === 0 ? 0 : floats(inp[3])[0];
    const scoreThr = inp[4] === undefined || inp[4].size === 0 ? null : floats(inp[4])[0];
    const center = attrNum(ctx, "center_point_box", 0) === 1;
    const [nb, nbox] = boxes.shape, nc = scores.shape[1];
    const bd = floats(boxes), sd = floats(scores);
    const out: number[] = [];
    for (let b = 0; b < nb; b++) {
      const box = (i: number) => bd.slice((b * nbox + i) * 4, (b * nbox + i) * 4 + 4) as Box;
      for (let c = 0; c < nc; c++) {
        const s = (i: number) => sd[(b * nc + c) * nbox + i];
        const cand = Array.from({ length: nbox }, (_, i) => i)
          .filter((i) => scoreThr === null || s(i) > scoreThr)
          // highest score first; equal scores: lower index first
          .sort((i, j) => s(j) - s(i) || i - j);
        const chosen: number[] = [];
        for (const i of cand) {
          if (chosen.length >= maxOut) break;
          if (chosen.every((j) => !suppress(box(i), box(j), center, iou))) {
            chosen.push(i);
            out.push(b, c, i);
          }
        }
      }
    }
    return [fromTyped(BigInt64Array.from(out, BigInt), [out.length / 3, 3], "i64")];
  },
});
