/**
 * LSTM on the CPU in f32 with the default activations: the input projection of all steps is one
 * matmul, each step one matmul (h·Rᵀ) and one loop over the gates in JS. About 20 core ops per
 * step become one; a one-step sequence (a streaming model such as Silero VAD) is dominated by
 * per-op costs, not arithmetic. Other LSTMs take the general path in rnn.ts.
 *
 * @module
 */
import { fromTyped } from "../../../core/ops/creation.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { attrNum, type OpContext } from "./registry.ts";

const DEFAULT_ACTS = ["sigmoid", "tanh", "tanh"];

function plainF32(t: Tensor | undefined): boolean {
  return t === undefined || (t.dtype === "f32" && t.device === "cpu");
}

/** Whether {@link lstmFast} handles this node (x already in [seq, batch, input] layout). */
export function lstmFastApplies(inp: readonly (Tensor | undefined)[], ctx: OpContext): boolean {
  const acts = ctx.node.attrs.get("activations");
  if (Array.isArray(acts) && acts.length > 0) {
    const names = (acts as string[]).map((s) => String(s).toLowerCase());
    if (names.some((n, i) => n !== DEFAULT_ACTS[i % 3])) return false;
  }
  return attrNum(ctx, "clip") === undefined && attrNum(ctx, "input_forget", 0) === 0 &&
    inp[7] === undefined && [0, 1, 2, 3, 5, 6].every((i) => plainF32(inp[i]));
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * The LSTM's outputs Y [seq, dirs, batch, H], Y_h and Y_c [dirs, batch, H] (layout 0; the caller
 * permutes for layout 1). Gate order i, o, f, c as ONNX defines it.
 */
export function lstmFast(
  x: Tensor,
  inp: readonly (Tensor | undefined)[],
  dirs: number,
  H: number,
  reverse: boolean,
): Tensor[] {
  const [seq, batch] = x.shape;
  const w = inp[1]!, r = inp[2]!;
  const y = new Float32Array(seq * dirs * batch * H);
  const yh = new Float32Array(dirs * batch * H), yc = new Float32Array(dirs * batch * H);
  const bias = inp[3] === undefined ? null : (inp[3].dataSync() as Float32Array);
  const h0 = inp[5] === undefined ? null : (inp[5].dataSync() as Float32Array);
  const c0 = inp[6] === undefined ? null : (inp[6].dataSync() as Float32Array);
  const G = 4 * H;
  for (let d = 0; d < dirs; d++) {
    const xwT = matmul(x, V.transpose(V.select(w, 0, d))); // [seq, batch, 4H]
    const xw = xwT.dataSync() as Float32Array;
    const rT = V.transpose(V.select(r, 0, d));
    const b = new Float64Array(G);
    if (bias !== null) {
      for (let j = 0; j < G; j++) b[j] = bias[d * 2 * G + j] + bias[d * 2 * G + G + j];
    }
    const h = new Float32Array(batch * H), c = new Float32Array(batch * H);
    if (h0 !== null) h.set(h0.subarray(d * batch * H, (d + 1) * batch * H));
    if (c0 !== null) c.set(c0.subarray(d * batch * H, (d + 1) * batch * H));
    for (let s = 0; s < seq; s++) {
      const t = d === 1 || reverse ? seq - 1 - s : s;
      const hT = fromTyped(h.slice(), [batch, H], "f32");
      const hrT = matmul(hT, rT);
      const hr = hrT.dataSync() as Float32Array;
      for (let n = 0; n < batch; n++) {
        const gx = (t * batch + n) * G, gr = n * G, o = n * H;
        for (let j = 0; j < H; j++) {
          const gi = sigmoid(xw[gx + j] + hr[gr + j] + b[j]);
          const go = sigmoid(xw[gx + H + j] + hr[gr + H + j] + b[H + j]);
          const gf = sigmoid(xw[gx + 2 * H + j] + hr[gr + 2 * H + j] + b[2 * H + j]);
          const gc = Math.tanh(xw[gx + 3 * H + j] + hr[gr + 3 * H + j] + b[3 * H + j]);
          const cn = Math.fround(gf * c[o + j] + gi * gc);
          c[o + j] = cn;
          h[o + j] = go * Math.tanh(cn);
        }
      }
      hT.dispose();
      hrT.dispose();
      y.set(h, ((t * dirs + d) * batch) * H);
    }
    xwT.dispose();
    yh.set(h, d * batch * H);
    yc.set(c, d * batch * H);
  }
  return [
    fromTyped(y, [seq, dirs, batch, H], "f32"),
    fromTyped(yh, [dirs, batch, H], "f32"),
    fromTyped(yc, [dirs, batch, H], "f32"),
  ];
}
