/**
 * ONNX recurrent operators `LSTM`, `GRU` and `RNN`, unrolled over time on our matmul and
 * elementwise ops (the input projection of all steps is one matmul).
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as A from "../../../core/ops/activation.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import { zeros } from "../../../core/ops/creation.ts";
import { stack } from "../../../core/ops/join.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import * as M from "../../../core/ops/math.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { lstmFast, lstmFastApplies } from "./lstm_fast.ts";
import {
  attrNum,
  attrNums,
  defineOps,
  ints,
  need,
  type OpContext,
  type OpFn,
  scalarOf,
} from "./registry.ts";

type T = Tensor;
type Act = (x: T) => T;

function activation(
  name: string,
  alpha: number | undefined,
  beta: number | undefined,
  ctx: OpContext,
): Act {
  switch (name.toLowerCase()) {
    case "sigmoid":
      return A.sigmoid;
    case "tanh":
      return M.tanh;
    case "relu":
      return A.relu;
    case "leakyrelu":
      return (x) => A.leakyRelu(x, alpha ?? 0.01);
    case "hardsigmoid":
      return (x) =>
        A.clip(B.add(B.mul(x, scalarOf(x, alpha ?? 0.2)), scalarOf(x, beta ?? 0.5)), 0, 1);
    case "affine":
      return (x) => B.add(B.mul(x, scalarOf(x, alpha ?? 1)), scalarOf(x, beta ?? 0));
    case "scaledtanh":
      return (x) => B.mul(M.tanh(B.mul(x, scalarOf(x, beta ?? 1))), scalarOf(x, alpha ?? 1));
    case "elu":
      return (x) => A.elu(x, alpha ?? 1);
    case "softsign":
      return (x) => B.div(x, B.add(B.abs(x), scalarOf(x, 1)));
    case "softplus":
      return (x) => A.softplus(x, 1, Infinity);
    default:
      throw new ShapeError(
        `${ctx.node.opType} "${ctx.node.name}": activation "${name}" is not supported.`,
      );
  }
}

function activations(ctx: OpContext, dflt: string[], dirs: number): Act[] {
  const v = ctx.node.attrs.get("activations");
  const names = Array.isArray(v) && v.length > 0 ? (v as string[]) : [];
  const alphas = attrNums(ctx, "activation_alpha", []),
    betas = attrNums(ctx, "activation_beta", []);
  const per = dflt.length;
  return Array.from(
    { length: per * dirs },
    (_, i) => activation(names[i] ?? dflt[i % per], alphas[i], betas[i], ctx),
  );
}

interface Rnn {
  x: T; // [seq, batch, input]
  dirs: number;
  hidden: number;
  layout: number;
  clip: number | undefined;
}

function setup(inp: (T | undefined)[], ctx: OpContext): Rnn {
  let x = need(inp, 0, ctx);
  const layout = attrNum(ctx, "layout", 0);
  if (layout === 1) x = V.permute(x, [1, 0, 2]);
  const dir = (ctx.node.attrs.get("direction") as string | undefined) ?? "forward";
  const dirs = dir === "bidirectional" ? 2 : 1;
  const hidden = attrNum(ctx, "hidden_size") ?? need(inp, 2, ctx).shape[2];
  const lens = inp[4];
  if (lens !== undefined && ints(lens).some((l) => l !== x.shape[0])) {
    throw new ShapeError(
      `${ctx.node.opType} "${ctx.node.name}": sequence_lens shorter than the sequence are not ` +
        `supported.`,
    );
  }
  return { x, dirs, hidden, layout, clip: attrNum(ctx, "clip") };
}

function clipped(x: T, c: number | undefined): T {
  return c === undefined ? x : A.clip(x, -c, c);
}

/** Outputs in the layout asked for: Y [seq, dirs, batch, h] (or [batch, seq, dirs, h]). */
function finish(ys: T[][], finals: T[][], layout: number): T[] {
  let y = stack(ys.map((d) => stack(d, 0)), 1); // [seq, dirs, batch, h]
  const outs = finals.map((f) => stack(f, 0)); // [dirs, batch, h]
  if (layout === 1) {
    y = V.contiguous(V.permute(y, [2, 0, 1, 3]));
    return [y, ...outs.map((o) => V.contiguous(V.permute(o, [1, 0, 2])))];
  }
  return [y, ...outs];
}

function initial(t: T | undefined, d: number, batch: number, hidden: number, dtype: DType): T {
  return t === undefined ? zeros([batch, hidden], { dtype }) : V.select(t, 0, d);
}

function gateSlices(t: T, n: number, h: number): T[] {
  const lead = t.shape.slice(0, -1).map(() => null);
  return Array.from(
    { length: n },
    (_, i) => V.slice(t, ...lead, { start: i * h, stop: (i + 1) * h }),
  );
}

const lstm: OpFn = (inp, ctx) => {
  const { x, dirs, hidden: H, layout, clip } = setup(inp, ctx);
  if (x.dtype === "f32" && x.device === "cpu" && lstmFastApplies(inp, ctx)) {
    const reverse = (ctx.node.attrs.get("direction") as string) === "reverse";
    const [y, yh, yc] = lstmFast(x, inp, dirs, H, reverse);
    if (layout === 0) return [y, yh, yc];
    return [
      V.contiguous(V.permute(y, [2, 0, 1, 3])),
      V.contiguous(V.permute(yh, [1, 0, 2])),
      V.contiguous(V.permute(yc, [1, 0, 2])),
    ];
  }
  const dt = x.dtype as DType;
  const [seq, batch] = x.shape;
  const acts = activations(ctx, ["Sigmoid", "Tanh", "Tanh"], dirs);
  const w = need(inp, 1, ctx), r = need(inp, 2, ctx);
  const coupled = attrNum(ctx, "input_forget", 0) === 1;
  const ys: T[][] = [], hs: T[][] = [[]], cs: T[][] = [[]];
  for (let d = 0; d < dirs; d++) {
    const wd = V.select(w, 0, d), rdT = V.transpose(V.select(r, 0, d));
    let xw = matmul(x, V.transpose(wd)); // [seq, batch, 4H]
    if (inp[3] !== undefined) {
      const bd = V.select(inp[3], 0, d);
      xw = B.add(xw, B.add(V.slice(bd, { stop: 4 * H }), V.slice(bd, { start: 4 * H })));
    }
    const p = inp[7] === undefined ? undefined : gateSlices(V.select(inp[7], 0, d), 3, H);
    let h = initial(inp[5], d, batch, H, dt), c = initial(inp[6], d, batch, H, dt);
    const [f, g, hh] = acts.slice(3 * d, 3 * d + 3);
    const out: T[] = Array(seq);
    for (let s = 0; s < seq; s++) {
      const t = d === 1 || ((ctx.node.attrs.get("direction") as string) === "reverse")
        ? seq - 1 - s
        : s;
      const gates = B.add(V.select(xw, 0, t), matmul(h, rdT));
      let [gi, go, gf, gc] = gateSlices(gates, 4, H);
      if (p !== undefined) {
        gi = B.add(gi, B.mul(p[0], c));
        gf = B.add(gf, B.mul(p[2], c));
      }
      const i = f(clipped(gi, clip));
      const fg = coupled ? B.sub(scalarOf(i, 1), i) : f(clipped(gf, clip));
      const cc = g(clipped(gc, clip));
      c = B.add(B.mul(fg, c), B.mul(i, cc));
      if (p !== undefined) go = B.add(go, B.mul(p[1], c));
      const o = f(clipped(go, clip));
      h = B.mul(o, hh(c));
      out[t] = h;
    }
    ys.push(out);
    hs[0].push(h);
    cs[0].push(c);
  }
  return finish(ys, [hs[0], cs[0]], layout);
};

const gru: OpFn = (inp, ctx) => {
  const { x, dirs, hidden: H, layout, clip } = setup(inp, ctx);
  const dt = x.dtype as DType;
  const [seq, batch] = x.shape;
  const acts = activations(ctx, ["Sigmoid", "Tanh"], dirs);
  const w = need(inp, 1, ctx), r = need(inp, 2, ctx);
  const lbr = attrNum(ctx, "linear_before_reset", 0) === 1;
  const ys: T[][] = [], hs: T[] = [];
  for (let d = 0; d < dirs; d++) {
    const [rz, rr, rh] = gateSlices(V.transpose(V.select(r, 0, d)), 3, H);
    let xw = matmul(x, V.transpose(V.select(w, 0, d))); // [seq, batch, 3H]
    let rb: T[] | undefined;
    if (inp[3] !== undefined) {
      const bd = V.select(inp[3], 0, d);
      xw = B.add(xw, V.slice(bd, { stop: 3 * H }));
      rb = gateSlices(V.slice(bd, { start: 3 * H }), 3, H);
    }
    let h = initial(inp[5], d, batch, H, dt);
    const [f, g] = acts.slice(2 * d, 2 * d + 2);
    const out: T[] = Array(seq);
    for (let s = 0; s < seq; s++) {
      const t = d === 1 || ((ctx.node.attrs.get("direction") as string) === "reverse")
        ? seq - 1 - s
        : s;
      const [xz, xr, xh] = gateSlices(V.select(xw, 0, t), 3, H);
      const withB = (v: T, k: number) => (rb === undefined ? v : B.add(v, rb[k]));
      const z = f(clipped(B.add(xz, withB(matmul(h, rz), 0)), clip));
      const rg = f(clipped(B.add(xr, withB(matmul(h, rr), 1)), clip));
      const hPre = lbr
        ? B.add(xh, B.mul(rg, withB(matmul(h, rh), 2)))
        : B.add(xh, withB(matmul(B.mul(rg, h), rh), 2));
      const hc = g(clipped(hPre, clip));
      h = B.add(B.mul(B.sub(scalarOf(z, 1), z), hc), B.mul(z, h));
      out[t] = h;
    }
    ys.push(out);
    hs.push(h);
  }
  return finish(ys, [hs], layout);
};

const rnn: OpFn = (inp, ctx) => {
  const { x, dirs, hidden: H, layout, clip } = setup(inp, ctx);
  const dt = x.dtype as DType;
  const [seq, batch] = x.shape;
  const acts = activations(ctx, ["Tanh"], dirs);
  const w = need(inp, 1, ctx), r = need(inp, 2, ctx);
  const ys: T[][] = [], hs: T[] = [];
  for (let d = 0; d < dirs; d++) {
    const rdT = V.transpose(V.select(r, 0, d));
    let xw = matmul(x, V.transpose(V.select(w, 0, d)));
    if (inp[3] !== undefined) {
      const bd = V.select(inp[3], 0, d);
      xw = B.add(xw, B.add(V.slice(bd, { stop: H }), V.slice(bd, { start: H })));
    }
    let h = initial(inp[5], d, batch, H, dt);
    const out: T[] = Array(seq);
    for (let s = 0; s < seq; s++) {
      const t = d === 1 || ((ctx.node.attrs.get("direction") as string) === "reverse")
        ? seq - 1 - s
        : s;
      h = acts[d](clipped(B.add(V.select(xw, 0, t), matmul(h, rdT)), clip));
      out[t] = h;
    }
    ys.push(out);
    hs.push(h);
  }
  return finish(ys, [hs], layout);
};

defineOps({ LSTM: lstm, GRU: gru, RNN: rnn });
