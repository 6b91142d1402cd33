/**
 * LSTM on the CPU in f32 with the default activations: the input projection of all steps is one
 * matmul, each step one matmul (h·Rᵀ) and one loop over the gates in JS. About 20 core ops per
 * step become one; a one-step sequence (a streaming model such as Silero VAD) is dominated by
 * per-op costs, not arithmetic. Other LSTMs take the general path in rnn.ts.
 *
 * @module
 */
import { newF32, readF32 } from "./host.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { keep } from "../../../core/memory.ts";
import { concat } from "../../../core/ops/join.ts";
import { attrNum, frozenId, type OpContext } from "./registry.ts";

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

/** Wb + Rb of direction d per bias tensor that is a session constant (computed once). */
const biasCache = new WeakMap<Tensor, Float64Array[]>();

function biasSum(t: Tensor | undefined, bias: Float32Array | null, d: number, G: number) {
  const cached = t === undefined ? undefined : biasCache.get(t)?.[d];
  if (cached !== undefined) return cached;
  const b = new Float64Array(G);
  if (bias !== null) {
    for (let j = 0; j < G; j++) b[j] = bias[d * 2 * G + j] + bias[d * 2 * G + G + j];
  }
  if (t !== undefined && frozenId(t) !== undefined) {
    const l = biasCache.get(t) ?? [];
    l[d] = b;
    biasCache.set(t, l);
  }
  return b;
}

/** [W_d R_d]ᵀ ([input + H, 4H]) per (W, R, direction), kept while W lives (session constants). */
const joinedCache = new WeakMap<Tensor, { r: Tensor; d: number; wr: Tensor }[]>();

function joinedWeight(w: Tensor, r: Tensor, d: number): Tensor | undefined {
  if (frozenId(w) === undefined || frozenId(r) === undefined) return undefined;
  const list = joinedCache.get(w) ?? [];
  let e = list.find((k) => k.r === r && k.d === d);
  if (e === undefined) {
    const wr = keep(V.contiguous(V.transpose(concat([V.select(w, 0, d), V.select(r, 0, d)], 1))));
    e = { r, d, wr };
    list.push(e);
    joinedCache.set(w, list);
  }
  return e.wr;
}

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
  const [yT, y] = newF32([seq, dirs, batch, H]);
  const [yhT, yh] = newF32([dirs, batch, H]);
  const [ycT, yc] = newF32([dirs, batch, H]);
  const bias = inp[3] === undefined ? null : readF32(inp[3]);
  const h0 = inp[5] === undefined ? null : readF32(inp[5]);
  const c0 = inp[6] === undefined ? null : readF32(inp[6]);
  const G = 4 * H;
  const I = x.shape[2];
  const xs = seq === 1 ? readF32(x) : null;
  for (let d = 0; d < dirs; d++) {
    const b = biasSum(inp[3], bias, d, G);
    const h = new Float32Array(batch * H), c = new Float32Array(batch * H);
    if (h0 !== null) h.set(h0.subarray(d * batch * H, (d + 1) * batch * H));
    if (c0 !== null) c.set(c0.subarray(d * batch * H, (d + 1) * batch * H));
    // One step (streaming): [x h]·[W R]ᵀ in one matmul, the joined weight kept while W and R
    // live. Longer sequences: the input projection of all steps at once, then h·Rᵀ per step.
    const joined = xs === null ? undefined : joinedWeight(w, r, d);
    const xwT = joined === undefined ? matmul(x, V.transpose(V.select(w, 0, d))) : null;
    const xw = xwT === null ? new Float32Array(batch * G) : readF32(xwT);
    const rT = joined ?? V.transpose(V.select(r, 0, d));
    for (let s = 0; s < seq; s++) {
      const t = d === 1 || reverse ? seq - 1 - s : s;
      let hT: Tensor;
      if (joined === undefined) {
        const [t, v] = newF32([batch, H]);
        v.set(h);
        hT = t;
      } else {
        const [t, xh] = newF32([batch, I + H]);
        for (let n = 0; n < batch; n++) {
          xh.set(xs!.subarray(n * I, (n + 1) * I), n * (I + H));
          xh.set(h.subarray(n * H, (n + 1) * H), n * (I + H) + I);
        }
        hT = t;
      }
      const hrT = matmul(hT, rT);
      const hr = readF32(hrT);
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
    xwT?.dispose();
    yh.set(h, d * batch * H);
    yc.set(c, d * batch * H);
  }
  return [yT, yhT, ycT];
}
