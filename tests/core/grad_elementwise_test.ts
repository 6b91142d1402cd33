/**
 * Backward rules of the elementwise ops against PyTorch (CPU, float32 and float64): random shapes
 * of rank 0-4 in every memory layout, broadcasting pairs for binary ops, weak scalar operands,
 * mixed f32/f64 operands, and the points where PyTorch picks a subgradient (relu/abs at 0, ties
 * of maximum/minimum, clip bounds, hardswish at ±3, softplus threshold, pow at a zero base).
 *
 * Each case computes y = op(inputs), loss = Σ y·c with fixed random weights c (so every element
 * gets a different upstream gradient), and compares y elementwise, the loss, and the gradient of
 * every input with torch's. All cases run in one Python process.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  abs,
  acos,
  add,
  asin,
  atan,
  atan2,
  ceil,
  clip,
  cos,
  cosh,
  div,
  type DType,
  elu,
  eq,
  erf,
  exp,
  expm1,
  floor,
  floorDiv,
  ge,
  gelu,
  gt,
  hardswish,
  isfinite,
  isinf,
  isnan,
  le,
  leakyRelu,
  log,
  log1p,
  log2,
  logicalAnd,
  logicalNot,
  lt,
  maximum,
  memory,
  minimum,
  mish,
  mod,
  mul,
  ne,
  neg,
  noGrad,
  pow,
  relu,
  round,
  rsqrt,
  selu,
  sigmoid,
  sign,
  silu,
  sin,
  sinh,
  softplus,
  sqrt,
  square,
  sub,
  tan,
  tanh,
  type Tensor,
  tensor,
  tidy,
} from "../../mod.ts";
import { needsTorch, type Tolerance } from "../helpers/numpy.ts";
import {
  arbBroadcastPair,
  arbShape,
  FC_PARAMS,
  LAYOUTS,
  makeTensor,
  type ValueOptions,
} from "../helpers/gen.ts";

import { checkGrads, type GradCase } from "../helpers/grads.ts";

// ---- unary ops -------------------------------------------------------------------------------

interface UnarySpec {
  ours: (x: Tensor) => Tensor;
  torch: string;
  /** Input domain (default [-3, 3]). */
  domain?: ValueOptions;
}

const UNARY: Record<string, UnarySpec> = {
  neg: { ours: neg, torch: "torch.neg(x0)" },
  abs: { ours: abs, torch: "torch.abs(x0)" },
  square: { ours: square, torch: "torch.square(x0)" },
  exp: { ours: exp, torch: "torch.exp(x0)" },
  expm1: { ours: expm1, torch: "torch.expm1(x0)" },
  log: { ours: log, torch: "torch.log(x0)", domain: { lo: 0.1, hi: 3 } },
  log1p: { ours: log1p, torch: "torch.log1p(x0)", domain: { lo: -0.9, hi: 3 } },
  log2: { ours: log2, torch: "torch.log2(x0)", domain: { lo: 0.1, hi: 3 } },
  sqrt: { ours: sqrt, torch: "torch.sqrt(x0)", domain: { lo: 0.1, hi: 3 } },
  rsqrt: { ours: rsqrt, torch: "torch.rsqrt(x0)", domain: { lo: 0.2, hi: 3 } },
  sin: { ours: sin, torch: "torch.sin(x0)" },
  cos: { ours: cos, torch: "torch.cos(x0)" },
  // away from the poles at ±π/2
  tan: { ours: tan, torch: "torch.tan(x0)", domain: { lo: -1.2, hi: 1.2 } },
  asin: { ours: asin, torch: "torch.asin(x0)", domain: { lo: -0.95, hi: 0.95 } },
  acos: { ours: acos, torch: "torch.acos(x0)", domain: { lo: -0.95, hi: 0.95 } },
  atan: { ours: atan, torch: "torch.atan(x0)" },
  sinh: { ours: sinh, torch: "torch.sinh(x0)" },
  cosh: { ours: cosh, torch: "torch.cosh(x0)" },
  tanh: { ours: tanh, torch: "torch.tanh(x0)" },
  erf: { ours: erf, torch: "torch.erf(x0)" },
  sigmoid: { ours: sigmoid, torch: "torch.sigmoid(x0)" },
  relu: { ours: relu, torch: "F.relu(x0)" },
  leakyRelu: { ours: (x) => leakyRelu(x, 0.1), torch: "F.leaky_relu(x0, 0.1)" },
  "leakyRelu default": { ours: (x) => leakyRelu(x), torch: "F.leaky_relu(x0)" },
  elu: { ours: (x) => elu(x, 1.3), torch: "F.elu(x0, 1.3)" },
  selu: { ours: selu, torch: "F.selu(x0)" },
  gelu: { ours: (x) => gelu(x), torch: "F.gelu(x0)" },
  "gelu tanh": { ours: (x) => gelu(x, "tanh"), torch: "F.gelu(x0, approximate='tanh')" },
  silu: { ours: silu, torch: "F.silu(x0)" },
  mish: { ours: mish, torch: "F.mish(x0)" },
  hardswish: { ours: hardswish, torch: "F.hardswish(x0)", domain: { lo: -5, hi: 5 } },
  softplus: { ours: (x) => softplus(x), torch: "F.softplus(x0)" },
  // βx spans [-6, 6], across the threshold 3
  "softplus beta 2 threshold 3": {
    ours: (x) => softplus(x, 2, 3),
    torch: "F.softplus(x0, beta=2, threshold=3)",
  },
  "clip [-1, 0.5]": { ours: (x) => clip(x, -1, 0.5), torch: "torch.clamp(x0, -1, 0.5)" },
  "clip max only": { ours: (x) => clip(x, null, 1), torch: "torch.clamp(x0, max=1)" },
  "clip min only": { ours: (x) => clip(x, 0, null), torch: "torch.clamp(x0, min=0)" },
  sign: { ours: sign, torch: "torch.sign(x0)" },
  round: { ours: round, torch: "torch.round(x0)" },
  floor: { ours: floor, torch: "torch.floor(x0)" },
  ceil: { ours: ceil, torch: "torch.ceil(x0)" },
};

Deno.test({
  name: "unary op gradients match PyTorch on random shapes and layouts (f32, f64)",
  ...needsTorch,
  async fn() {
    const shapes = fc.sample(arbShape({ maxRank: 4, maxDim: 4 }), { seed: 11, numRuns: 400 });
    const cases: GradCase[] = [];
    let n = 0;
    for (const [name, spec] of Object.entries(UNARY)) {
      // four f32 cases (one per layout) and two f64 cases per op
      for (let j = 0; j < 6; j++, n++) {
        const dtype: DType = j < 4 ? "f32" : "f64";
        const shape = shapes[n % shapes.length];
        const layout = LAYOUTS[(j + n) % LAYOUTS.length];
        cases.push({
          name: `${name} ${dtype} ${JSON.stringify(shape)} ${layout}`,
          inputs: [makeTensor(shape, dtype, 100 + n, layout, spec.domain)],
          ours: spec.ours,
          torch: spec.torch,
        });
      }
    }
    await checkGrads(cases);
  },
});

// ---- binary ops ------------------------------------------------------------------------------

interface BinarySpec {
  ours: (a: Tensor, b: Tensor) => Tensor;
  torch: string;
  domains?: [ValueOptions, ValueOptions];
  /** Looser tolerance, with the reason. */
  tol?: Tolerance;
}

/** Random-sign values with magnitude in [0.5, 3] (no division by values near 0). */
const awayFromZero = (t: Tensor, seed: number): Tensor => {
  const s = makeTensor(t.shape, t.dtype, seed, "contiguous", { lo: -1, hi: 1 });
  const r = noGrad(() => mul(t, sign(s)));
  s.dispose();
  t.dispose();
  return r;
};

const BINARY: Record<string, BinarySpec> = {
  add: { ours: add, torch: "x0 + x1" },
  sub: { ours: sub, torch: "x0 - x1" },
  mul: { ours: mul, torch: "x0 * x1" },
  div: { ours: div, torch: "x0 / x1", domains: [{}, { lo: 0.5, hi: 3 }] },
  pow: { ours: pow, torch: "torch.pow(x0, x1)", domains: [{ lo: 0.2, hi: 2 }, { lo: -2, hi: 2 }] },
  mod: { ours: mod, torch: "torch.remainder(x0, x1)", domains: [{}, { lo: 0.5, hi: 2 }] },
  // PyTorch has no derivative for floor_divide; ours is 0 (it is piecewise constant)
  floorDiv: {
    ours: floorDiv,
    torch: "torch.floor_divide(x0.detach(), x1.detach()) + 0 * (x0 + x1)",
    domains: [{}, { lo: 0.5, hi: 2 }],
  },
  atan2: { ours: atan2, torch: "torch.atan2(x0, x1)", domains: [{}, { lo: 0.5, hi: 3 }] },
  maximum: { ours: maximum, torch: "torch.maximum(x0, x1)" },
  minimum: { ours: minimum, torch: "torch.minimum(x0, x1)" },
};

Deno.test({
  name: "binary op gradients match PyTorch on broadcasting pairs of rank 0-4 and all layouts",
  ...needsTorch,
  async fn() {
    const pairs = fc.sample(arbBroadcastPair({ maxRank: 4, maxDim: 4 }), {
      seed: FC_PARAMS.seed,
      numRuns: 200,
    });
    const cases: GradCase[] = [];
    let n = 0;
    for (const [name, spec] of Object.entries(BINARY)) {
      for (let j = 0; j < 10; j++, n++) {
        const dtype: DType = j < 7 ? "f32" : "f64";
        const [sa, sb] = pairs[n % pairs.length];
        const [da, db] = spec.domains ?? [{}, {}];
        const la = LAYOUTS[n % LAYOUTS.length], lb = LAYOUTS[(n + 1 + j) % LAYOUTS.length];
        let b = makeTensor(sb, dtype, 300 + n, lb, db);
        if ((name === "div" || name === "atan2") && j % 2) b = awayFromZero(b, 900 + n);
        cases.push({
          name: `${name} ${dtype} ${JSON.stringify(sa)} ${la} with ${JSON.stringify(sb)} ${lb}`,
          inputs: [makeTensor(sa, dtype, 200 + n, la, da), b],
          // the last case of each op: only the second operand requires a gradient
          needs: j === 9 ? [false, true] : undefined,
          ours: spec.ours,
          torch: spec.torch,
          tol: spec.tol,
        });
      }
    }
    // weak JS-number operands (0-d tensors inside) and mixed f32/f64 operands
    const x = (seed: number, dtype: DType = "f32", opts: ValueOptions = {}) =>
      makeTensor([3, 4], dtype, seed, "transposed", opts);
    cases.push(
      { name: "x ** 3", inputs: [x(1)], ours: (a) => pow(a, 3), torch: "x0 ** 3" },
      {
        name: "x ** 0.5",
        inputs: [x(2, "f32", { lo: 0.1, hi: 3 })],
        ours: (a) => pow(a, 0.5),
        torch: "x0 ** 0.5",
      },
      { name: "x ** 0", inputs: [x(3)], ours: (a) => pow(a, 0), torch: "x0 ** 0" },
      { name: "2 ** x", inputs: [x(4)], ours: (a) => pow(2, a), torch: "torch.pow(2, x0)" },
      { name: "1 - x", inputs: [x(5)], ours: (a) => sub(1, a), torch: "1 - x0" },
      {
        name: "1 / x",
        inputs: [x(6, "f64", { lo: 0.5, hi: 2 })],
        ours: (a) => div(1, a),
        torch: "1 / x0",
      },
      { name: "x * 2.5", inputs: [x(7)], ours: (a) => mul(a, 2.5), torch: "x0 * 2.5" },
      {
        name: "f32 [3, 4] + f64 [4] promotes, each grad in its input's dtype",
        inputs: [x(8), makeTensor([4], "f64", 9)],
        ours: (a, b) => mul(add(a, b), a),
        torch: "(x0 + x1) * x0",
      },
      {
        name: "maximum of f32 and f64 operands",
        inputs: [makeTensor([2, 3], "f64", 10, "strided"), makeTensor([3], "f32", 11)],
        ours: maximum,
        torch: "torch.maximum(x0, x1)",
      },
    );
    await checkGrads(cases);
  },
});

// ---- edge cases ------------------------------------------------------------------------------

Deno.test({
  name: "subgradients at kinks and ties follow PyTorch's conventions",
  ...needsTorch,
  async fn() {
    const t = (v: number[], dtype: DType = "f32") => tensor(v, { dtype });
    const kinks = [-3, -1, 0, 0.5, 1, 3];
    const cases: GradCase[] = [
      ...["f32", "f64"].map((d) => ({
        name: `relu, abs, leakyRelu, elu, hardswish, sign, round at their kinks (${d})`,
        inputs: [t(kinks, d as DType)],
        ours: (x: Tensor) =>
          add(
            add(relu(x), mul(abs(x), 2)),
            add(
              add(leakyRelu(x, 0.2), elu(x, 0.7)),
              add(mul(hardswish(x), 3), add(sign(x), round(x))),
            ),
          ),
        torch:
          "F.relu(x0) + x0.abs() * 2 + F.leaky_relu(x0, 0.2) + F.elu(x0, 0.7) + F.hardswish(x0) * 3 + torch.sign(x0) + torch.round(x0)",
      })),
      {
        name: "hardswish at exactly ±3 and beyond",
        inputs: [t([-4, -3, -2.5, 2.5, 3, 4])],
        ours: hardswish,
        torch: "F.hardswish(x0)",
      },
      {
        name: "clip passes the gradient at both bounds (inclusive)",
        inputs: [t([-2, -1, -0.5, 0, 0.5, 1])],
        ours: (x) => clip(x, -1, 0.5),
        torch: "torch.clamp(x0, -1, 0.5)",
      },
      {
        name: "softplus at and around the threshold (β=1, threshold 20)",
        inputs: [t([19.5, 20, 20.5, 30, -30], "f64")],
        ours: (x) => softplus(x),
        torch: "F.softplus(x0)",
      },
      {
        name: "softplus with βx exactly at the threshold (β=2, threshold 3)",
        inputs: [t([1.25, 1.5, 1.75])],
        ours: (x) => softplus(x, 2, 3),
        torch: "F.softplus(x0, beta=2, threshold=3)",
      },
      {
        name: "maximum/minimum split ties in half and pass NaN to both",
        inputs: [t([1, 2, 3, NaN, 0, 5]), t([1, 3, 2, 0, NaN, 5])],
        ours: (a, b) => add(maximum(a, b), mul(minimum(a, b), 3)),
        torch: "torch.maximum(x0, x1) + 3 * torch.minimum(x0, x1)",
      },
      {
        name: "maximum ties with broadcasting sum both halves back",
        inputs: [t([1, 2, 2, 0]).reshape([4, 1]), t([2, 1, 0])],
        ours: maximum,
        torch: "torch.maximum(x0, x1)",
      },
      {
        name: "pow at a zero base, zero exponent and negative base",
        inputs: [t([0, 0, 0, 0, -1, -2, 2], "f64"), t([0, 0.5, 2, -1, 2, 3, -1], "f64")],
        ours: pow,
        torch: "torch.pow(x0, x1)",
      },
      {
        name: "atan2 at the origin (and where a² + b² underflows) has gradient 0",
        inputs: [t([0, 1, 0, 1e-30, 1e-30]), t([0, 0, -1, 1e-30, 0])],
        ours: atan2,
        torch: "torch.atan2(x0, x1)",
      },
      {
        name: "asin and acos at ±1 have infinite slopes",
        inputs: [t([-1, 1, 0], "f64")],
        ours: (x) => add(asin(x), mul(acos(x), 0.5)),
        torch: "torch.asin(x0) + 0.5 * torch.acos(x0)",
      },
      {
        name: "mod where the quotient is negative",
        inputs: [t([-7, 7, -7.5, 7.5]), t([2, -2, 2, -2])],
        ours: mod,
        torch: "torch.remainder(x0, x1)",
      },
    ];
    await checkGrads(cases);
  },
});

Deno.test("bool results of comparisons and predicates never require a gradient", () => {
  const x = tensor([1, NaN, 3]).requireGrad();
  const y = tensor([2, 2, 2]).requireGrad();
  const outs = [
    eq(x, y),
    ne(x, y),
    lt(x, y),
    le(x, y),
    gt(x, 2),
    ge(x, y),
    isnan(x),
    isinf(x),
    isfinite(x),
    logicalNot(x),
    logicalAnd(x, y),
  ];
  for (const o of outs) {
    assert.equal(o.dtype, "bool");
    assert.equal(o.requiresGrad, false);
    assert.equal(o.gradFn, null);
    o.dispose();
  }
  // a float op applied to a comparison result is a constant of x
  const m = gt(x, 2);
  const z = mul(x, m).sum();
  z.backward();
  assert.deepEqual(x.grad!.toArraySync(), [0, 0, 1]);
  for (const t of [x, y, m, z]) t.dispose();
});

Deno.test("elementwise backward rules free their intermediates", () => {
  const x = makeTensor([3, 4], "f32", 1, "transposed", { lo: 0.2, hi: 2 }).requireGrad();
  const y = makeTensor([4], "f32", 2, "contiguous", { lo: 0.5, hi: 2 }).requireGrad();
  const before = memory().tensors;
  for (const spec of Object.values(UNARY)) tidy(() => spec.ours(x).sum().backward());
  for (const spec of Object.values(BINARY)) tidy(() => spec.ours(x, y).sum().backward());
  // only the two accumulated gradients remain
  assert.equal(memory().tensors - before, 2);
  for (const t of [x, y]) t.dispose();
});
