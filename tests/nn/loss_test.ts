/**
 * Loss functions and modules against PyTorch: values and input gradients for every loss and
 * reduction, class-index and probability targets, ignoreIndex, label smoothing, weights,
 * posWeight, logTarget, thresholds; typed errors on bad input.
 */
import assert from "node:assert/strict";
import {
  ComputeError,
  DTypeError,
  IndexError,
  memory,
  nn,
  ShapeError,
  type Tensor,
  tensor,
  type TensorLike,
} from "../../mod.ts";
import {
  assertMatches,
  needsTorch,
  numpy,
  type RefCase,
  type RefResult,
} from "../helpers/numpy.ts";
import { type Layout, makeTensor, rng } from "../helpers/gen.ts";

type F = "f32" | "f64";

/** Tolerances: f32 rtol 1e-5 (atol 1e-6 for values near 0), f64 rtol 1e-10. */
const TOL = {
  f32: { rtol: 1e-5, atol: 1e-6 },
  f64: { rtol: 1e-10, atol: 1e-12 },
};

interface Case {
  name: string;
  dtype: F;
  /** Differentiable inputs (x0, x1, ... in torch), may be non-contiguous. */
  inputs: Tensor[];
  /** Constant tensors by name (integer ones become torch longs). */
  consts?: Record<string, Tensor>;
  ours: (x: Tensor[], c: Record<string, Tensor>) => Tensor;
  /** A torch expression over x0, x1, ... and the constants; F is torch.nn.functional. */
  torch: string;
}

/** Random floats of `shape`. */
function rand(
  shape: number[],
  dtype: F,
  seed: number,
  layout: Layout = "contiguous",
  lo = -3,
  hi = 3,
) {
  return makeTensor(shape, dtype, seed, layout, { lo, hi });
}

/** Random class indices in [0, C), a fraction `ignored` replaced by `ignoreIndex`. */
function classes(shape: number[], C: number, seed: number, ignored = 0, ignoreIndex = -100) {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => (r() < ignored ? ignoreIndex : Math.floor(r() * C)));
  return shape.length ? tensor(v, { dtype: "i64", shape }) : tensor(v[0], { dtype: "i64" });
}

/** Probabilities along axis 1 (or 0 for a 1-D shape). */
function probs(shape: number[], dtype: F, seed: number): Tensor {
  const x = rand(shape, dtype, seed);
  const p = x.softmax(shape.length === 1 ? 0 : 1);
  x.dispose();
  return p;
}

/** Exact small weights 0.25·(1 + i mod 7) for the seed gradient of a non-scalar loss. */
function seedGrad(out: Tensor): Tensor {
  const v = Array.from({ length: out.size }, (_, i) => 0.25 * (1 + (i % 7)));
  return tensor(v, { dtype: out.dtype, shape: [...out.shape] });
}

/** Every group of cases, evaluated by PyTorch in one batch (one Python start) on first use. */
const GROUPS = new Map<string, () => Case[]>();
let batch: Promise<Map<string, [Case[], RefResult[]]>> | null = null;

function group(name: string, build: () => Case[]): string {
  GROUPS.set(name, build);
  return name;
}

function torchCase(c: Case): RefCase {
  const consts = c.consts ?? {};
  const setup = [
    "import torch",
    "import torch.nn.functional as F",
    ...c.inputs.map((_, i) => `x${i} = torch.tensor(x${i}, requires_grad=True)`),
    ...Object.entries(consts).map(([k, t]) =>
      `${k} = torch.from_numpy(np.array(${k}))` + (t.dtype.startsWith("i") ? ".long()" : "")
    ),
    `out = ${c.torch}`,
    "n = out.numel()",
    "gw = (0.25 * (1 + torch.arange(n) % 7)).to(out.dtype).reshape(out.shape)",
    "(out if out.dim() == 0 else (out * gw).sum()).backward()",
  ].join("\n");
  const grads = c.inputs.map((_, i) =>
    `(x${i}.grad.numpy() if x${i}.grad is not None else np.zeros(x${i}.shape, x${i}.detach().numpy().dtype))`
  );
  return {
    setup,
    expr: `[out.detach().numpy(), ${grads.join(", ")}]`,
    arrays: { ...Object.fromEntries(c.inputs.map((x, i) => [`x${i}`, x])), ...consts },
  };
}

function evaluateAll(): Promise<Map<string, [Case[], RefResult[]]>> {
  batch ??= (async () => {
    const built = [...GROUPS].map(([name, build]) => [name, build()] as const);
    const refs = await numpy(built.flatMap(([, cs]) => cs.map(torchCase)));
    const out = new Map<string, [Case[], RefResult[]]>();
    let i = 0;
    for (const [name, cs] of built) {
      out.set(name, [cs, refs.slice(i, i + cs.length)]);
      i += cs.length;
    }
    return out;
  })();
  return batch;
}

/** Compare our values and input gradients with PyTorch's for every case of a group. */
async function check(name: string): Promise<void> {
  const [cases, refs] = (await evaluateAll()).get(name)!;
  cases.forEach((c, k) => {
    const r = refs[k];
    assert.equal(r.error, undefined, `${c.name}: torch raised ${r.error}`);
    const leaves = c.inputs.map((x) => x.detach().requireGrad());
    const out = c.ours(leaves, c.consts ?? {});
    const tol = TOL[c.dtype];
    assertMatches(out, r.results[0], tol, `${c.name} (${c.dtype}) value`);
    if (out.ndim === 0) out.backward();
    else {
      const g = seedGrad(out);
      out.backward(g);
      g.dispose();
    }
    leaves.forEach((x, i) =>
      assertMatches(x.grad!, r.results[i + 1], tol, `${c.name} (${c.dtype}) grad of x${i}`)
    );
    for (const t of [...leaves, out]) t.dispose();
  });
}

const REDUCTIONS = ["mean", "sum", "none"] as const;

/**
 * A case adder for a loss over class indices (crossEntropy, nllLoss): ours `loss`, torch's
 * `F.<pyName>`, with the class targets `t` and optional class weights `w` as constants; `py`
 * appends torch keyword arguments matching `opts`.
 */
function classIndexAdder<O extends { weight?: TensorLike | null; reduction?: nn.Reduction }>(
  cases: Case[],
  loss: (x: Tensor, t: Tensor, opts: O) => Tensor,
  pyName: string,
  dtype: F,
  reduction: (typeof REDUCTIONS)[number],
) {
  return (
    name: string,
    x: Tensor,
    t: Tensor,
    opts: Omit<O, "weight" | "reduction">,
    py: string,
    w?: Tensor,
  ) =>
    cases.push({
      name: `${name} ${reduction}`,
      dtype,
      inputs: [x],
      consts: w ? { t, w } : { t },
      ours: ([x], c) => loss(x, c.t, { ...opts, weight: c.w, reduction } as O),
      torch: `F.${pyName}(x0, t${w ? ", weight=w" : ""}, reduction="${reduction}"${py})`,
    });
}

const group1 = group(
  "crossEntropy with class indices matches PyTorch (values and input gradients)",
  () => {
    const cases: Case[] = [];
    let seed = 1;
    for (const dtype of ["f32", "f64"] as const) {
      for (const reduction of REDUCTIONS) {
        const add = classIndexAdder<nn.CrossEntropyOptions>(
          cases,
          nn.crossEntropy,
          "cross_entropy",
          dtype,
          reduction,
        );
        add("(N, C)", rand([5, 4], dtype, seed++), classes([5], 4, seed++), {}, "");
        add(
          "(N, C) transposed",
          rand([6, 3], dtype, seed++, "transposed"),
          classes([6], 3, seed++),
          {},
          "",
        );
        add(
          "(N, C, d1, d2)",
          rand([3, 4, 2, 3], dtype, seed++, "strided"),
          classes([3, 2, 3], 4, seed++),
          {},
          "",
        );
        add("unbatched (C)", rand([5], dtype, seed++), classes([], 5, seed++), {}, "");
        add(
          "weights",
          rand([6, 4], dtype, seed++),
          classes([6], 4, seed++),
          {},
          "",
          rand([4], dtype, seed++, "contiguous", 0.1, 2),
        );
        add("ignoreIndex -100", rand([8, 3], dtype, seed++), classes([8], 3, seed++, 0.3), {}, "");
        add(
          "ignoreIndex -100 with weights",
          rand([8, 3], dtype, seed++),
          classes([8], 3, seed++, 0.3),
          {},
          "",
          rand([3], dtype, seed++, "contiguous", 0.1, 2),
        );
        add("ignoreIndex 1 (a class)", rand([7, 3], dtype, seed++), classes([7], 3, seed++), {
          ignoreIndex: 1,
        }, ", ignore_index=1");
        add("all targets ignored", rand([3, 4], dtype, seed++), classes([3], 4, seed++, 1), {}, "");
        add(
          "all ignored with label smoothing",
          rand([3, 4], dtype, seed++),
          classes([3], 4, seed++, 1),
          { labelSmoothing: 0.1 },
          ", label_smoothing=0.1",
        );
        add("label smoothing", rand([6, 5], dtype, seed++), classes([6], 5, seed++), {
          labelSmoothing: 0.2,
        }, ", label_smoothing=0.2");
        add(
          "label smoothing + ignoreIndex",
          rand([8, 5], dtype, seed++),
          classes([8], 5, seed++, 0.3),
          { labelSmoothing: 0.15 },
          ", label_smoothing=0.15",
        );
        add(
          "label smoothing + weights + ignoreIndex",
          rand([8, 5], dtype, seed++),
          classes([8], 5, seed++, 0.3),
          { labelSmoothing: 0.3 },
          ", label_smoothing=0.3",
          rand([5], dtype, seed++, "contiguous", 0.1, 2),
        );
        add(
          "label smoothing + weights (N, C, d1)",
          rand([2, 3, 4], dtype, seed++),
          classes([2, 4], 3, seed++, 0.2),
          { labelSmoothing: 0.1 },
          ", label_smoothing=0.1",
          rand([3], dtype, seed++, "contiguous", 0.1, 2),
        );
        add("label smoothing unbatched", rand([4], dtype, seed++), classes([], 4, seed++), {
          labelSmoothing: 0.25,
        }, ", label_smoothing=0.25");
        add("label smoothing 1", rand([4, 3], dtype, seed++), classes([4], 3, seed++), {
          labelSmoothing: 1,
        }, ", label_smoothing=1.0");
      }
    }
    return cases;
  },
);

Deno.test({
  name: "crossEntropy with class indices matches PyTorch (values and input gradients)",
  ...needsTorch,
  fn: () => check(group1),
});

const group2 = group("crossEntropy with class probabilities matches PyTorch", () => {
  const cases: Case[] = [];
  let seed = 100;
  for (const dtype of ["f32", "f64"] as const) {
    for (const reduction of REDUCTIONS) {
      const red = `reduction="${reduction}"`;
      const add = (
        name: string,
        shape: number[],
        opts: nn.CrossEntropyOptions,
        py: string,
        weighted = false,
      ) => {
        const C = shape.length === 1 ? shape[0] : shape[1];
        const consts: Record<string, Tensor> = { p: probs(shape, dtype, seed++) };
        if (weighted) consts.w = rand([C], dtype, seed++, "contiguous", 0.1, 2);
        cases.push({
          name: `${name} ${reduction}`,
          dtype,
          inputs: [rand(shape, dtype, seed++, shape.length > 1 ? "transposed" : "contiguous")],
          consts,
          ours: ([x], c) => nn.crossEntropy(x, c.p, { ...opts, weight: c.w, reduction }),
          torch: `F.cross_entropy(x0, p${weighted ? ", weight=w" : ""}, ${red}${py})`,
        });
      };
      add("(N, C)", [5, 4], {}, "");
      add("(N, C, d1)", [3, 4, 2], {}, "");
      add("unbatched (C)", [6], {}, "");
      add("weights", [5, 3], {}, "", true);
      add("label smoothing", [5, 3], { labelSmoothing: 0.2 }, ", label_smoothing=0.2");
      add(
        "label smoothing + weights (N, C, d1)",
        [2, 3, 4],
        { labelSmoothing: 0.1 },
        ", label_smoothing=0.1",
        true,
      );
    }
  }
  return cases;
});

Deno.test({
  name: "crossEntropy with class probabilities matches PyTorch",
  ...needsTorch,
  fn: () => check(group2),
});

const group3 = group("nllLoss matches PyTorch", () => {
  const cases: Case[] = [];
  let seed = 200;
  for (const dtype of ["f32", "f64"] as const) {
    for (const reduction of REDUCTIONS) {
      const add = classIndexAdder<nn.NLLLossOptions>(
        cases,
        nn.nllLoss,
        "nll_loss",
        dtype,
        reduction,
      );
      add("(N, C)", rand([5, 4], dtype, seed++), classes([5], 4, seed++), {}, "");
      add(
        "(N, C, d1)",
        rand([3, 4, 5], dtype, seed++, "strided"),
        classes([3, 5], 4, seed++),
        {},
        "",
      );
      add("unbatched", rand([4], dtype, seed++), classes([], 4, seed++), {}, "");
      add(
        "weights + ignoreIndex",
        rand([9, 4], dtype, seed++),
        classes([9], 4, seed++, 0.3),
        {},
        "",
        rand([4], dtype, seed++, "contiguous", 0.1, 2),
      );
      add(
        "ignoreIndex 0",
        rand([6, 3], dtype, seed++),
        classes([6], 3, seed++),
        { ignoreIndex: 0 },
        ", ignore_index=0",
      );
      add(
        "all ignored",
        rand([2, 3], dtype, seed++),
        classes([2], 3, seed++, 1),
        {},
        "",
        rand([3], dtype, seed++, "contiguous", 0.1, 2),
      );
    }
  }
  return cases;
});

Deno.test({ name: "nllLoss matches PyTorch", ...needsTorch, fn: () => check(group3) });

const group4 = group(
  "regression losses (mse, l1, smoothL1, huber) match PyTorch incl. the thresholds",
  () => {
    const cases: Case[] = [];
    let seed = 300;
    // differences exactly 0, ±0.5, ±1, ±2.5 (on the thresholds tested below), and others
    const xs = [1.25, -0.75, 0.5, 0.25, 3, -2, 2.75, 0.1];
    const ys = [0.25, 0.25, 0.5, 0.75, 0.5, 0.5, 0.25, -0.3];
    for (const dtype of ["f32", "f64"] as const) {
      for (const reduction of REDUCTIONS) {
        const red = `reduction="${reduction}"`;
        for (
          const [shape, layout] of [
            [[], "contiguous"],
            [[7], "contiguous"],
            [[3, 4], "transposed"],
            [[2, 3, 2], "strided"],
          ] as [number[], Layout][]
        ) {
          const mk = () => [rand(shape, dtype, seed++, layout), rand(shape, dtype, seed++)];
          const s = `${JSON.stringify(shape)} ${layout} ${reduction}`;
          cases.push({
            name: `mseLoss ${s}`,
            dtype,
            inputs: mk(),
            ours: ([x, y]) => nn.mseLoss(x, y, { reduction }),
            torch: `F.mse_loss(x0, x1, ${red})`,
          });
          cases.push({
            name: `l1Loss ${s}`,
            dtype,
            inputs: mk(),
            ours: ([x, y]) => nn.l1Loss(x, y, { reduction }),
            torch: `F.l1_loss(x0, x1, ${red})`,
          });
          cases.push({
            name: `smoothL1Loss ${s}`,
            dtype,
            inputs: mk(),
            ours: ([x, y]) => nn.smoothL1Loss(x, y, { reduction }),
            torch: `F.smooth_l1_loss(x0, x1, ${red})`,
          });
          cases.push({
            name: `huberLoss ${s}`,
            dtype,
            inputs: mk(),
            ours: ([x, y]) => nn.huberLoss(x, y, { reduction, delta: 1.5 }),
            torch: `F.huber_loss(x0, x1, ${red}, delta=1.5)`,
          });
        }
        const th = () => [tensor(xs, { dtype }), tensor(ys, { dtype })];
        for (const beta of [1, 0.5, 2.5, 0]) {
          cases.push({
            name: `smoothL1Loss at beta=${beta} ${reduction}`,
            dtype,
            inputs: th(),
            ours: ([x, y]) => nn.smoothL1Loss(x, y, { reduction, beta }),
            torch: `F.smooth_l1_loss(x0, x1, ${red}, beta=float(${beta}))`,
          });
          if (beta > 0) {
            cases.push({
              name: `huberLoss at delta=${beta} ${reduction}`,
              dtype,
              inputs: th(),
              ours: ([x, y]) => nn.huberLoss(x, y, { reduction, delta: beta }),
              torch: `F.huber_loss(x0, x1, ${red}, delta=float(${beta}))`,
            });
          }
        }
        cases.push({
          name: `l1Loss at 0 ${reduction}`,
          dtype,
          inputs: th(),
          ours: ([x, y]) => nn.l1Loss(x, y, { reduction }),
          torch: `F.l1_loss(x0, x1, ${red})`,
        });
      }
    }
    return cases;
  },
);

Deno.test({
  name: "regression losses (mse, l1, smoothL1, huber) match PyTorch incl. the thresholds",
  ...needsTorch,
  fn: () => check(group4),
});

const group5 = group("binary cross entropy (probabilities and logits) matches PyTorch", () => {
  const cases: Case[] = [];
  let seed = 400;
  for (const dtype of ["f32", "f64"] as const) {
    for (const reduction of REDUCTIONS) {
      const red = `reduction="${reduction}"`;
      const p = (shape: number[], layout: Layout = "contiguous") =>
        rand(shape, dtype, seed++, layout, 0.02, 0.98);
      cases.push({
        name: `bceLoss (4, 3) ${reduction}`,
        dtype,
        inputs: [p([4, 3], "transposed")],
        consts: { y: p([4, 3]) },
        ours: ([x], c) => nn.bceLoss(x, c.y, { reduction }),
        torch: `F.binary_cross_entropy(x0, y, ${red})`,
      });
      cases.push({
        name: `bceLoss hard targets + weight (3) ${reduction}`,
        dtype,
        inputs: [p([5, 3])],
        consts: {
          y: tensor([1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0], { dtype, shape: [5, 3] }),
          w: p([3]),
        },
        ours: ([x], c) => nn.bceLoss(x, c.y, { reduction, weight: c.w }),
        torch: `F.binary_cross_entropy(x0, y, weight=w, ${red})`,
      });
      cases.push({
        name: `bceWithLogitsLoss (4, 3) ${reduction}`,
        dtype,
        inputs: [rand([4, 3], dtype, seed++, "strided", -6, 6)],
        consts: { y: p([4, 3]) },
        ours: ([x], c) => nn.bceWithLogitsLoss(x, c.y, { reduction }),
        torch: `F.binary_cross_entropy_with_logits(x0, y, ${red})`,
      });
      cases.push({
        name: `bceWithLogitsLoss posWeight + weight ${reduction}`,
        dtype,
        inputs: [rand([2, 3, 4], dtype, seed++, "contiguous", -6, 6)],
        consts: {
          y: p([2, 3, 4]),
          w: p([3, 1]),
          pw: rand([4], dtype, seed++, "contiguous", 0.2, 3),
        },
        ours: ([x], c) => nn.bceWithLogitsLoss(x, c.y, { reduction, weight: c.w, posWeight: c.pw }),
        torch: `F.binary_cross_entropy_with_logits(x0, y, weight=w, pos_weight=pw, ${red})`,
      });
      cases.push({
        name: `bceWithLogitsLoss large logits ${reduction}`,
        dtype,
        inputs: [tensor([-80, -30, -15, 0, 15, 30, 80, 200], { dtype })],
        consts: { y: tensor([1, 0, 0.5, 1, 0.25, 1, 0, 1], { dtype }) },
        ours: ([x], c) => nn.bceWithLogitsLoss(x, c.y, { reduction }),
        torch: `F.binary_cross_entropy_with_logits(x0, y, ${red})`,
      });
    }
  }
  return cases;
});

Deno.test({
  name: "binary cross entropy (probabilities and logits) matches PyTorch",
  ...needsTorch,
  fn: () => check(group5),
});

const group6 = group("klDivLoss matches PyTorch (probability and log targets, batchmean)", () => {
  const cases: Case[] = [];
  let seed = 500;
  for (const dtype of ["f32", "f64"] as const) {
    for (const reduction of [...REDUCTIONS, "batchmean"] as const) {
      const red = `reduction="${reduction}"`;
      const logq = () => {
        const p = probs([4, 5], dtype, seed++);
        const l = p.log();
        p.dispose();
        return l;
      };
      const pz = probs([4, 5], dtype, seed++);
      // some target probabilities exactly 0
      const mask = tensor(Array.from({ length: 20 }, (_, i) => i % 6 !== 0), { shape: [4, 5] });
      const pZero = pz.mul(mask);
      cases.push({
        name: `klDivLoss ${reduction}`,
        dtype,
        inputs: [logq()],
        consts: { p: probs([4, 5], dtype, seed++) },
        ours: ([x], c) => nn.klDivLoss(x, c.p, { reduction }),
        torch: `F.kl_div(x0, p, ${red})`,
      });
      cases.push({
        name: `klDivLoss with zero targets ${reduction}`,
        dtype,
        inputs: [logq()],
        consts: { p: pZero },
        ours: ([x], c) => nn.klDivLoss(x, c.p, { reduction }),
        torch: `F.kl_div(x0, p, ${red})`,
      });
      cases.push({
        name: `klDivLoss logTarget ${reduction}`,
        dtype,
        inputs: [logq()],
        consts: { p: logq() },
        ours: ([x], c) => nn.klDivLoss(x, c.p, { reduction, logTarget: true }),
        torch: `F.kl_div(x0, p, ${red}, log_target=True)`,
      });
      pz.dispose();
      mask.dispose();
    }
  }
  return cases;
});

Deno.test({
  name: "klDivLoss matches PyTorch (probability and log targets, batchmean)",
  ...needsTorch,
  fn: () => check(group6),
});

const groupModules = group("loss modules match PyTorch's modules", () => {
  const x = () => rand([6, 4], "f32", 600, "transposed");
  const y = classes([6], 4, 601, 0.2);
  const w = rand([4], "f32", 602, "contiguous", 0.5, 2);
  const p = rand([6, 4], "f32", 603, "contiguous", 0.05, 0.95);
  const lp = p.log(), p2 = p.mul(0.5);
  const mod = (
    name: string,
    m: nn.Module<[Tensor, Tensor], Tensor>,
    torch: string,
    inputs = [x()],
    target = "p",
  ): Case => ({
    name,
    dtype: "f32",
    inputs,
    consts: { y, w, p, lp, p2 },
    ours: ([a], c) => m.call(a, c[target]),
    torch: `torch.nn.${torch}(x0, ${target})`,
  });
  return [
    mod(
      "CrossEntropyLoss",
      new nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1 }),
      "CrossEntropyLoss(weight=w, label_smoothing=0.1)",
      [x()],
      "y",
    ),
    mod(
      "NLLLoss",
      new nn.NLLLoss({ weight: w, reduction: "sum" }),
      "NLLLoss(weight=w, reduction='sum')",
      [x()],
      "y",
    ),
    mod("MSELoss", new nn.MSELoss(), "MSELoss()"),
    mod("L1Loss", new nn.L1Loss({ reduction: "sum" }), "L1Loss(reduction='sum')"),
    mod("SmoothL1Loss", new nn.SmoothL1Loss({ beta: 0.5 }), "SmoothL1Loss(beta=0.5)"),
    mod(
      "HuberLoss",
      new nn.HuberLoss({ delta: 0.7, reduction: "none" }),
      "HuberLoss(delta=0.7, reduction='none')",
    ),
    mod("BCELoss", new nn.BCELoss({ weight: w }), "BCELoss(weight=w)", [p.clone()], "p2"),
    mod(
      "BCEWithLogitsLoss",
      new nn.BCEWithLogitsLoss({ posWeight: w }),
      "BCEWithLogitsLoss(pos_weight=w)",
    ),
    mod(
      "KLDivLoss",
      new nn.KLDivLoss({ reduction: "batchmean", logTarget: true }),
      "KLDivLoss(reduction='batchmean', log_target=True)",
      [x()],
      "lp",
    ),
  ];
});

Deno.test({
  name: "loss modules match PyTorch's and keep PyTorch's buffers",
  ...needsTorch,
  async fn(t) {
    await t.step("modules compute what PyTorch's modules compute", () => check(groupModules));

    await t.step("weights are buffers named like PyTorch's, copied from the argument", () => {
      const w = tensor([1, 2, 3]);
      const ce = new nn.CrossEntropyLoss({ weight: w });
      assert.deepEqual(Object.keys(ce.stateDict()), ["weight"]);
      assert.deepEqual(ce.parameters(), []);
      w.dispose();
      assert.deepEqual(ce.weight!.toArraySync(), [1, 2, 3]);
      const bce = new nn.BCEWithLogitsLoss({ weight: [1, 2], posWeight: [3, 4] });
      assert.deepEqual(Object.keys(bce.stateDict()), ["weight", "pos_weight"]);
      assert.deepEqual(Object.keys(new nn.CrossEntropyLoss().stateDict()), []);
      assert.equal(String(new nn.MSELoss({ reduction: "sum" })), 'MSELoss(reduction="sum")');
      ce.dispose();
      bce.dispose();
    });
  },
});

Deno.test("losses reject bad input with typed errors", async (t) => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  await t.step("class-index target of the wrong shape names the loss and both shapes", () => {
    assert.throws(
      () => nn.crossEntropy(x, tensor([0, 1, 2], { dtype: "i64" })),
      (e: Error) =>
        e instanceof ShapeError && /crossEntropy/.test(e.message) && /\(3,\)/.test(e.message) &&
        /\(2, 3\)/.test(e.message) && /expected class indices of shape \(2,\)/.test(e.message),
    );
    assert.throws(() => nn.nllLoss(x, tensor([[0], [1]], { dtype: "i64" })), ShapeError);
  });
  await t.step("float class indices are a DTypeError with a hint", () => {
    assert.throws(
      () => nn.crossEntropy(x, tensor([0, 1])),
      (e: Error) =>
        e instanceof DTypeError && /integer dtype/.test(e.message) && /f32/.test(e.message),
    );
    assert.throws(
      () => nn.crossEntropy(x, tensor([[0, 1, 0], [1, 0, 0]], { dtype: "i32" })),
      (e: Error) => e instanceof DTypeError && /probabilities/.test(e.message),
    );
  });
  await t.step("class index out of range is an IndexError", () => {
    for (const bad of [3, -1]) {
      assert.throws(
        () => nn.crossEntropy(x, tensor([0, bad], { dtype: "i64" })),
        (e: Error) => e instanceof IndexError && new RegExp(`target ${bad}`).test(e.message),
      );
    }
    assert.throws(() => nn.nllLoss(x, tensor([5, 0], { dtype: "i32" })), IndexError);
    // the ignored value is allowed even though it is out of range
    nn.nllLoss(x, tensor([-100, 0], { dtype: "i32" })).dispose();
  });
  await t.step("elementwise losses want the input's exact shape", () => {
    for (
      const f of [
        nn.mseLoss,
        nn.l1Loss,
        nn.smoothL1Loss,
        nn.huberLoss,
        nn.bceLoss,
        nn.bceWithLogitsLoss,
        nn.klDivLoss,
      ]
    ) {
      assert.throws(
        () => f(x, tensor([1, 2, 3])),
        (e: Error) =>
          e instanceof ShapeError && /\(3,\)/.test(e.message) && /\(2, 3\)/.test(e.message),
      );
    }
  });
  await t.step("integer inputs, bad weights and bad options", () => {
    assert.throws(() => nn.mseLoss(tensor([1, 2], { dtype: "i32" }), tensor([1, 2])), DTypeError);
    assert.throws(
      () => nn.crossEntropy(x, tensor([0, 1], { dtype: "i64" }), { weight: [1, 2] }),
      ShapeError,
    );
    assert.throws(() => nn.bceLoss(x, x, { weight: [1, 2] }), ShapeError);
    assert.throws(() => nn.mseLoss(x, x, { reduction: "avg" as never }), ComputeError);
    assert.throws(
      () => nn.crossEntropy(x, tensor([0, 1], { dtype: "i64" }), { labelSmoothing: 2 }),
      ComputeError,
    );
  });
  x.dispose();
});

Deno.test("losses free their intermediates", () => {
  const x = rand([4, 3], "f32", 700).requireGrad();
  const y = classes([4], 3, 701, 0.25);
  const p = rand([4, 3], "f32", 702, "contiguous", 0.1, 0.9);
  const run = () => {
    const ls = [
      nn.crossEntropy(x, y, { labelSmoothing: 0.1, weight: [1, 2, 3] }),
      nn.crossEntropy(x, p),
      nn.bceWithLogitsLoss(x, p, { posWeight: [1, 2, 3] }),
      nn.smoothL1Loss(x, p),
      nn.klDivLoss(x, p),
    ];
    for (const l of ls) {
      l.backward();
      l.dispose();
    }
  };
  run();
  const before = memory().tensors;
  for (let i = 0; i < 5; i++) run();
  assert.equal(memory().tensors, before);
  for (const t of [x, y, p]) t.dispose();
});

Deno.test("bceLoss clamps its logs at -100 like PyTorch, so inputs 0 and 1 give finite losses", () => {
  const l = nn.bceLoss(tensor([0, 1, 0, 1]), tensor([0, 1, 1, 0]), { reduction: "none" });
  assert.deepEqual((l.toArraySync() as number[]).map((v) => v + 0), [0, 0, 100, 100]);
  l.dispose();
});
