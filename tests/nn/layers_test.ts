/**
 * Every layer against PyTorch: the same weights (loaded into torch through `load_state_dict`
 * with strict key checking, so our state-dict names are PyTorch's), the same input and upstream
 * gradient; outputs, input gradients, parameter gradients and buffers (BatchNorm's running
 * statistics after several steps) compared, in train and eval mode.
 */
import assert from "node:assert/strict";
import {
  ComputeError,
  DTypeError,
  Generator,
  gradcheck,
  nn,
  noGrad,
  ones,
  seed,
  ShapeError,
  type Tensor,
  tensor,
  zeros,
} from "../../mod.ts";
import { assertMatches, needsTorch, numpy, type RefCase } from "../helpers/numpy.ts";
import { type Layout, makeTensor } from "../helpers/gen.ts";

/** Python: load our state dict into the torch module, run `steps` steps, return everything. */
const SETUP = `
import torch
torch.manual_seed(0)
def run(m, names, arrs, x, g, steps, train, then_eval, input_grad, pnames, bnames):
    m = m.double() if x.dtype == np.float64 else m
    sd = {n: torch.from_numpy(np.array(a)) for n, a in zip(names, arrs)}
    m.load_state_dict(sd, strict=True)
    keys = list(m.state_dict().keys())
    if keys != list(names):
        raise ValueError(f"state_dict keys differ: torch {keys} vs ours {list(names)}")
    m.train(train)
    xt = torch.from_numpy(x)
    if input_grad:
        xt.requires_grad_(True)
    gt = None
    for _ in range(steps):
        y = m(xt)
        if gt is None:
            gt = torch.from_numpy(g.reshape(y.shape))
        (y * gt).sum().backward()
    out = [y.detach().numpy()]
    if input_grad:
        out.append(xt.grad.numpy())
    params = dict(m.named_parameters())
    for n in pnames:
        out.append(params[n].grad.numpy())
    bufs = dict(m.named_buffers())
    for n in bnames:
        out.append(bufs[n].numpy())
    if then_eval:
        m.eval()
        with torch.no_grad():
            out.append(m(xt).numpy())
    return out
`;

interface LayerCase {
  name: string;
  make: () => nn.AnyModule;
  /** Python expression building the equivalent torch module. */
  torch: string;
  /** Input shape (float) or an input tensor. */
  input: number[] | (() => Tensor);
  layout?: Layout;
  /** Training steps before comparing (default 1). */
  steps?: number;
  /** Mode of the steps (default true = train). */
  train?: boolean;
  /** Also compare an eval-mode forward after the steps. */
  thenEval?: boolean;
  /**
   * Tolerances (default f32: rtol 1e-5, atol 1e-6). Convolution weight gradients get atol 1e-4:
   * each element sums N·H·W products of values in [-3, 3] (magnitudes ~10², with cancellation),
   * so f32 rounding in a different summation order than torch's reaches ~1e-5 absolute.
   */
  rtol?: number;
  atol?: number;
  /** Give parameters random values first (default true). */
  randomize?: boolean;
}

/** See {@link LayerCase.atol}. */
const CONV = { atol: 1e-4 };

/** Random weights (running variances positive), so every parameter matters. */
function randomize(m: nn.AnyModule, s: number): void {
  const g = new Generator(s);
  for (const [, p] of m.namedParameters()) nn.init.uniform(p, -1, 1, { generator: g });
  for (const [n, b] of m.namedBuffers()) {
    if (n.endsWith("running_var")) nn.init.uniform(b, 0.5, 1.5, { generator: g });
    else if (n.endsWith("running_mean")) nn.init.uniform(b, -1, 1, { generator: g });
  }
}

interface Prepared {
  name: string;
  ours: Tensor[];
  labels: string[];
  ref: RefCase;
  rtol: number;
  atol: number;
  cleanup: () => void;
}

function prepare(c: LayerCase, i: number): Prepared {
  const m = c.make();
  if (c.randomize !== false) randomize(m, 1000 + i);
  const x = typeof c.input === "function"
    ? c.input()
    : makeTensor(c.input, "f32", 7 + i, c.layout ?? "contiguous");
  const floatIn = x.dtype === "f32" || x.dtype === "f64";
  if (floatIn) x.requiresGrad = true;
  // state dict before the steps, as torch loads it
  const sd = m.stateDict();
  const names = Object.keys(sd);
  const snap = names.map((n) => sd[n].clone());
  for (const t of Object.values(sd)) t.dispose();
  const pnames = m.namedParameters().map(([n]) => n);
  const bnames = m.namedBuffers().map(([n]) => n);
  const train = c.train ?? true;
  m.train(train);
  let y: Tensor | null = null;
  let g: Tensor | null = null;
  for (let s = 0; s < (c.steps ?? 1); s++) {
    y?.dispose();
    y = m.call(x) as Tensor;
    g ??= makeTensor(y.shape as number[], y.dtype, 99 + i);
    const l = y.mul(g).sum();
    l.backward();
    l.dispose();
  }
  const ours: Tensor[] = [y!];
  const labels = ["output"];
  if (floatIn) {
    ours.push(x.grad!);
    labels.push("input grad");
  }
  for (const [n, p] of m.namedParameters()) {
    ours.push(p.grad ?? zeros(p.shape));
    labels.push(`grad of ${n}`);
  }
  for (const [n, b] of m.namedBuffers()) {
    ours.push(b);
    labels.push(`buffer ${n}`);
  }
  if (c.thenEval) {
    m.eval();
    ours.push(noGrad(() => m.call(x) as Tensor));
    labels.push("eval output");
  }
  const arrays: Record<string, Tensor> = { x, g: g! };
  snap.forEach((t, k) => (arrays[`s${k}`] = t));
  const ref: RefCase = {
    setup: SETUP,
    expr: `run(${c.torch}, names, [${snap.map((_, k) => `s${k}`).join(", ")}], x, g, ${
      c.steps ?? 1
    }, ${train ? "True" : "False"}, ${c.thenEval ? "True" : "False"}, ${
      floatIn ? "True" : "False"
    }, pnames, bnames)`,
    arrays,
    scalars: { names, pnames, bnames },
  };
  return {
    name: c.name,
    ours,
    labels,
    ref,
    rtol: c.rtol ?? 1e-5,
    atol: c.atol ?? 1e-6,
    cleanup: () => {
      m.dispose();
      x.dispose();
      g?.dispose();
      y?.dispose();
      for (const t of snap) t.dispose();
    },
  };
}

async function compare(t: Deno.TestContext, cases: LayerCase[]): Promise<void> {
  const prepared: Prepared[] = [];
  const failedEarly: [string, unknown][] = [];
  cases.forEach((c, i) => {
    try {
      prepared.push(prepare(c, i));
    } catch (e) {
      failedEarly.push([c.name, e]);
    }
  });
  const results = await numpy(prepared.map((p) => p.ref));
  for (const [name, e] of failedEarly) {
    await t.step(name, () => {
      throw e;
    });
  }
  for (let k = 0; k < prepared.length; k++) {
    const p = prepared[k], r = results[k];
    await t.step(p.name, () => {
      assert.equal(r.error, undefined, `torch: ${r.error}`);
      assert.equal(r.results.length, p.ours.length, "number of compared tensors");
      p.ours.forEach((o, j) =>
        assertMatches(o, r.results[j], { rtol: p.rtol, atol: p.atol }, `${p.name}: ${p.labels[j]}`)
      );
    });
    p.cleanup();
  }
}

Deno.test({
  name: "linear, convolution and pooling layers match PyTorch (forward and gradients)",
  ...needsTorch,
  async fn(t) {
    await compare(t, [
      {
        name: "Linear(5, 3) on a transposed (4, 5) input",
        make: () => new nn.Linear(5, 3),
        torch: "torch.nn.Linear(5, 3)",
        input: [4, 5],
        layout: "transposed",
      },
      {
        name: "Linear(5, 3, bias=false) on a (2, 3, 5) input",
        make: () => new nn.Linear(5, 3, { bias: false }),
        torch: "torch.nn.Linear(5, 3, bias=False)",
        input: [2, 3, 5],
      },
      {
        name: "Conv1d(4, 6, 3, stride=2, padding=1)",
        ...CONV,
        make: () => new nn.Conv1d(4, 6, 3, { stride: 2, padding: 1 }),
        torch: "torch.nn.Conv1d(4, 6, 3, stride=2, padding=1)",
        input: [2, 4, 11],
      },
      {
        name: "Conv1d(4, 6, 3, groups=2, dilation=2, padding='same', reflect)",
        ...CONV,
        make: () =>
          new nn.Conv1d(4, 6, 3, {
            groups: 2,
            dilation: 2,
            padding: "same",
            paddingMode: "reflect",
          }),
        torch:
          "torch.nn.Conv1d(4, 6, 3, groups=2, dilation=2, padding='same', padding_mode='reflect')",
        input: [2, 4, 9],
      },
      {
        name: "Conv2d(3, 4, 3, padding=1) on a strided input",
        ...CONV,
        make: () => new nn.Conv2d(3, 4, 3, { padding: 1 }),
        torch: "torch.nn.Conv2d(3, 4, 3, padding=1)",
        input: [2, 3, 6, 6],
        layout: "strided",
      },
      {
        name: "Conv2d(4, 6, (3, 2), stride=2, groups=2, dilation=(1, 2), bias=false)",
        ...CONV,
        make: () =>
          new nn.Conv2d(4, 6, [3, 2], { stride: 2, groups: 2, dilation: [1, 2], bias: false }),
        torch: "torch.nn.Conv2d(4, 6, (3, 2), stride=2, groups=2, dilation=(1, 2), bias=False)",
        input: [2, 4, 7, 8],
      },
      {
        name: "Conv2d(2, 3, 4, padding='same', circular) (even kernel: extra padding right)",
        ...CONV,
        make: () => new nn.Conv2d(2, 3, 4, { padding: "same", paddingMode: "circular" }),
        torch: "torch.nn.Conv2d(2, 3, 4, padding='same', padding_mode='circular')",
        input: [1, 2, 6, 5],
      },
      {
        name: "Conv2d(2, 3, 3, padding=2, replicate) on an unbatched input",
        ...CONV,
        make: () => new nn.Conv2d(2, 3, 3, { padding: 2, paddingMode: "replicate" }),
        torch: "torch.nn.Conv2d(2, 3, 3, padding=2, padding_mode='replicate')",
        input: [2, 5, 5],
      },
      {
        name: "ConvTranspose2d(4, 3, 3, stride=2, padding=1, outputPadding=1)",
        ...CONV,
        make: () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
        torch: "torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)",
        input: [2, 4, 5, 5],
      },
      {
        name: "ConvTranspose2d(4, 6, (2, 3), stride=(2, 1), groups=2, dilation=2)",
        ...CONV,
        make: () =>
          new nn.ConvTranspose2d(4, 6, [2, 3], { stride: [2, 1], groups: 2, dilation: 2 }),
        torch: "torch.nn.ConvTranspose2d(4, 6, (2, 3), stride=(2, 1), groups=2, dilation=2)",
        input: [2, 4, 4, 5],
      },
      {
        name: "ConvTranspose2d(2, 2, 3, stride=2, padding=3) crops more than the kernel pads",
        ...CONV,
        make: () => new nn.ConvTranspose2d(2, 2, 3, { stride: 2, padding: 3, bias: false }),
        torch: "torch.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=3, bias=False)",
        input: [1, 2, 6, 6],
      },
      {
        name: "ConvTranspose2d(3, 2, 2, stride=2) on an unbatched input",
        ...CONV,
        make: () => new nn.ConvTranspose2d(3, 2, 2, { stride: 2 }),
        torch: "torch.nn.ConvTranspose2d(3, 2, 2, stride=2)",
        input: [3, 4, 4],
      },
      {
        name: "MaxPool2d(2)",
        make: () => new nn.MaxPool2d(2),
        torch: "torch.nn.MaxPool2d(2)",
        input: [2, 3, 6, 6],
      },
      {
        name: "MaxPool2d(3, stride=2, padding=1, ceilMode)",
        make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
        torch: "torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)",
        input: [2, 2, 8, 7],
      },
      {
        name: "AvgPool2d(2) on a transposed input",
        make: () => new nn.AvgPool2d(2),
        torch: "torch.nn.AvgPool2d(2)",
        input: [2, 3, 6, 4],
        layout: "transposed",
      },
      {
        name: "AvgPool2d(3, stride=2, padding=1, countIncludePad=false)",
        make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
        torch: "torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)",
        input: [1, 2, 7, 7],
      },
      {
        name: "AdaptiveAvgPool2d([3, 2]) with overlapping windows",
        make: () => new nn.AdaptiveAvgPool2d([3, 2]),
        torch: "torch.nn.AdaptiveAvgPool2d((3, 2))",
        input: [2, 3, 7, 5],
      },
      {
        name: "AdaptiveAvgPool2d(1) (global average)",
        make: () => new nn.AdaptiveAvgPool2d(1),
        torch: "torch.nn.AdaptiveAvgPool2d(1)",
        input: [2, 4, 5, 6],
      },
      {
        name: "AdaptiveAvgPool2d([null, 4]) on an unbatched input",
        make: () => new nn.AdaptiveAvgPool2d([null, 4]),
        torch: "torch.nn.AdaptiveAvgPool2d((None, 4))",
        input: [3, 5, 9],
      },
    ]);
  },
});

Deno.test({
  name: "normalization layers match PyTorch in train and eval mode (running statistics too)",
  ...needsTorch,
  async fn(t) {
    await compare(t, [
      {
        name: "BatchNorm1d(4) on (8, 4): 3 train steps, running stats, then eval",
        make: () => new nn.BatchNorm1d(4),
        torch: "torch.nn.BatchNorm1d(4)",
        input: [8, 4],
        steps: 3,
        thenEval: true,
      },
      {
        name: "BatchNorm1d(3, momentum=null) on (4, 3, 5): cumulative average",
        make: () => new nn.BatchNorm1d(3, { momentum: null }),
        torch: "torch.nn.BatchNorm1d(3, momentum=None)",
        input: [4, 3, 5],
        steps: 3,
        thenEval: true,
      },
      {
        name: "BatchNorm1d(3, affine=false, trackRunningStats=false) uses batch stats in eval",
        make: () => new nn.BatchNorm1d(3, { affine: false, trackRunningStats: false }),
        torch: "torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False)",
        input: [5, 3],
        thenEval: true,
      },
      {
        name: "BatchNorm2d(3, momentum=0.3, eps=1e-3): 2 train steps, then eval",
        make: () => new nn.BatchNorm2d(3, { momentum: 0.3, eps: 1e-3 }),
        torch: "torch.nn.BatchNorm2d(3, momentum=0.3, eps=1e-3)",
        input: [4, 3, 5, 5],
        layout: "transposed",
        steps: 2,
        thenEval: true,
      },
      {
        name: "BatchNorm2d(3) in eval mode (running statistics, gradients through them)",
        make: () => new nn.BatchNorm2d(3),
        torch: "torch.nn.BatchNorm2d(3)",
        input: [2, 3, 4, 4],
        train: false,
      },
      {
        name: "LayerNorm(6) on (3, 4, 6)",
        make: () => new nn.LayerNorm(6),
        torch: "torch.nn.LayerNorm(6)",
        input: [3, 4, 6],
      },
      {
        name: "LayerNorm([4, 6], eps=1e-3, bias=false)",
        make: () => new nn.LayerNorm([4, 6], { eps: 1e-3, bias: false }),
        torch: "torch.nn.LayerNorm([4, 6], eps=1e-3, bias=False)",
        input: [2, 4, 6],
        layout: "strided",
      },
      {
        name: "LayerNorm(5, elementwiseAffine=false)",
        make: () => new nn.LayerNorm(5, { elementwiseAffine: false }),
        torch: "torch.nn.LayerNorm(5, elementwise_affine=False)",
        input: [3, 5],
      },
      {
        name: "RMSNorm([6]) (default eps: machine epsilon)",
        make: () => new nn.RMSNorm([6]),
        torch: "torch.nn.RMSNorm([6])",
        input: [3, 4, 6],
      },
      {
        name: "RMSNorm([3, 4], eps=1e-6)",
        make: () => new nn.RMSNorm([3, 4], { eps: 1e-6 }),
        torch: "torch.nn.RMSNorm([3, 4], eps=1e-6)",
        input: [2, 3, 4],
      },
      {
        name: "GroupNorm(2, 6) on (3, 6, 4)",
        make: () => new nn.GroupNorm(2, 6),
        torch: "torch.nn.GroupNorm(2, 6)",
        input: [3, 6, 4],
      },
      {
        name: "GroupNorm(3, 6, affine=false) on (2, 6, 3, 3)",
        make: () => new nn.GroupNorm(3, 6, { affine: false }),
        torch: "torch.nn.GroupNorm(3, 6, affine=False)",
        input: [2, 6, 3, 3],
      },
    ]);
  },
});

Deno.test({
  name: "embedding, reshaping, containers and activations match PyTorch",
  ...needsTorch,
  async fn(t) {
    const idx = () => tensor([[1, 2, 9, 2], [0, 0, 5, 3]], { dtype: "i64" });
    const act = (name: string, ours: () => nn.AnyModule, torch: string): LayerCase => ({
      name,
      make: ours,
      torch,
      input: [3, 4, 5],
    });
    await compare(t, [
      {
        name: "Embedding(10, 4) on (2, 4) i64 indices",
        make: () => new nn.Embedding(10, 4),
        torch: "torch.nn.Embedding(10, 4)",
        input: idx,
      },
      {
        name: "Embedding(10, 4, paddingIdx=2): the padding row gets no gradient",
        make: () => new nn.Embedding(10, 4, { paddingIdx: 2 }),
        torch: "torch.nn.Embedding(10, 4, padding_idx=2)",
        input: idx,
      },
      {
        name: "Flatten() and Unflatten(1, [2, 10])",
        make: () => new nn.Sequential(new nn.Flatten(), new nn.Unflatten(1, [2, -1])),
        torch: "torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Unflatten(1, (2, -1)))",
        input: [3, 4, 5],
      },
      {
        name: "a small CNN in a Sequential (state-dict keys like PyTorch's)",
        make: () =>
          new nn.Sequential(
            new nn.Conv2d(1, 4, 3, { padding: 1 }),
            new nn.BatchNorm2d(4),
            new nn.ReLU(),
            new nn.MaxPool2d(2),
            new nn.Flatten(),
            new nn.Dropout(0.3),
            new nn.Linear(4 * 3 * 3, 5),
          ),
        torch: "torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), " +
          "torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), " +
          "torch.nn.Dropout(0.3), torch.nn.Linear(36, 5))",
        input: [3, 1, 6, 6],
        train: false,
      },
      act("ReLU", () => new nn.ReLU(), "torch.nn.ReLU()"),
      act("ReLU6", () => new nn.ReLU6(), "torch.nn.ReLU6()"),
      act("LeakyReLU(0.2)", () => new nn.LeakyReLU(0.2), "torch.nn.LeakyReLU(0.2)"),
      act("ELU(0.5)", () => new nn.ELU(0.5), "torch.nn.ELU(0.5)"),
      act("SELU", () => new nn.SELU(), "torch.nn.SELU()"),
      act("GELU", () => new nn.GELU(), "torch.nn.GELU()"),
      act("GELU(tanh)", () => new nn.GELU("tanh"), "torch.nn.GELU(approximate='tanh')"),
      act("SiLU", () => new nn.SiLU(), "torch.nn.SiLU()"),
      act("Mish", () => new nn.Mish(), "torch.nn.Mish()"),
      act("Sigmoid", () => new nn.Sigmoid(), "torch.nn.Sigmoid()"),
      act("Tanh", () => new nn.Tanh(), "torch.nn.Tanh()"),
      act("Hardtanh(-2, 2)", () => new nn.Hardtanh(-2, 2), "torch.nn.Hardtanh(-2, 2)"),
      act("Hardsigmoid", () => new nn.Hardsigmoid(), "torch.nn.Hardsigmoid()"),
      act("Hardswish", () => new nn.Hardswish(), "torch.nn.Hardswish()"),
      act("Softplus(2, 3)", () => new nn.Softplus(2, 3), "torch.nn.Softplus(2, 3)"),
      act("Softsign", () => new nn.Softsign(), "torch.nn.Softsign()"),
      act("LogSigmoid", () => new nn.LogSigmoid(), "torch.nn.LogSigmoid()"),
      act("Softmax(1)", () => new nn.Softmax(1), "torch.nn.Softmax(1)"),
      act("LogSoftmax(-1)", () => new nn.LogSoftmax(-1), "torch.nn.LogSoftmax(-1)"),
      act("PReLU()", () => new nn.PReLU(), "torch.nn.PReLU()"),
      act("PReLU(4) per channel", () => new nn.PReLU(4), "torch.nn.PReLU(4)"),
      act("Identity", () => new nn.Identity(), "torch.nn.Identity()"),
    ]);
  },
});

Deno.test("dropout: seeded masks, statistics, eval identity, gradient through the same mask", async (t) => {
  await t.step("seed() and a generator make masks reproducible", () => {
    const d = new nn.Dropout(0.5);
    const x = ones([64]);
    seed(5);
    const a = d.call(x).toArraySync();
    seed(5);
    const b = d.call(x).toArraySync();
    assert.deepEqual(a, b);
    const g1 = new nn.Dropout(0.5, { generator: new Generator(9) });
    const g2 = new nn.Dropout(0.5, { generator: new Generator(9) });
    assert.deepEqual(g1.call(x).toArraySync(), g2.call(x).toArraySync());
    const other = new nn.Dropout(0.5, { generator: new Generator(10) });
    assert.notDeepEqual(g1.call(x).toArraySync(), other.call(x).toArraySync());
    x.dispose();
  });

  await t.step("p=0.3 zeroes ~30% and scales the rest by 1/(1-p)", () => {
    const n = 200_000, p = 0.3;
    const y = new nn.Dropout(p, { generator: new Generator(1) }).call(ones([n]));
    const v = y.dataSync() as Float32Array;
    let zeros = 0;
    for (const e of v) {
      if (e === 0) zeros++;
      else assert.equal(e, Math.fround(1 / (1 - p)));
    }
    // binomial std of the fraction: √(p(1-p)/n) ≈ 0.001; allow 5σ
    assert.ok(Math.abs(zeros / n - p) < 0.005, `fraction zeroed ${zeros / n}`);
    assert.ok(Math.abs((y.mean().item() as number) - 1) < 0.01);
    y.dispose();
  });

  await t.step("the gradient uses the forward mask: dL/dx = mask / (1 - p)", () => {
    const x = makeTensor([40, 50], "f32", 3).requireGrad();
    const d = new nn.Dropout(0.4, { generator: new Generator(2) });
    const y = d.call(x);
    y.sum().backward();
    const yv = y.dataSync() as Float32Array, gv = x.grad!.dataSync() as Float32Array;
    const xv = x.dataSync() as Float32Array;
    for (let i = 0; i < yv.length; i++) {
      const kept = gv[i] !== 0;
      assert.equal(gv[i], kept ? Math.fround(1 / 0.6) : 0);
      // (-0 for a dropped negative input, like PyTorch: hence ===, not Object.is)
      assert.ok(yv[i] === (kept ? Math.fround(xv[i] * Math.fround(1 / 0.6)) : 0), `element ${i}`);
    }
    x.dispose();
  });

  await t.step("eval mode, p=0 are the identity; p=1 gives zeros", () => {
    const x = makeTensor([3, 4], "f32", 4);
    const d = new nn.Dropout(0.9).eval();
    const y = d.call(x);
    assert.notEqual(y, x);
    assert.deepEqual(y.toArraySync(), x.toArraySync());
    assert.deepEqual(new nn.Dropout(0).call(x).toArraySync(), x.toArraySync());
    assert.equal(new nn.Dropout(1).call(x).abs().sum().item(), 0);
    assert.throws(() => new nn.Dropout(1.5), ComputeError);
    x.dispose();
  });
});

Deno.test("wrong inputs give typed errors naming the layer and the expected shape", async (t) => {
  const throwsShape = (f: () => unknown, ...parts: RegExp[]) =>
    assert.throws(f, (e: Error) => {
      assert.ok(e instanceof ShapeError, `${e.name}: ${e.message}`);
      for (const p of parts) assert.match(e.message, p);
      return true;
    });
  await t.step("Linear: features on the last axis", () => {
    throwsShape(
      () => new nn.Linear(784, 256).call(zeros([2, 100])),
      /^Linear\(in=784, out=256\): input has 100 features on its last axis, expected 784/,
    );
    throwsShape(() => nn.functional.linear(zeros([2, 3]), zeros([4, 5])), /^linear:/, /expected 5/);
  });
  await t.step("convolutions and pools: rank and channels", () => {
    throwsShape(
      () => new nn.Conv2d(3, 16, 3).call(zeros([2, 4, 8, 8])),
      /^Conv2d\(3, 16, kernelSize=\[3,3\]\)/,
      /has 4 channels/,
      /expected 3/,
    );
    throwsShape(() => new nn.Conv2d(3, 16, 3).call(zeros([8, 8])), /expected \(N, C, H, W\)/);
    throwsShape(() => new nn.Conv1d(2, 4, 3).call(zeros([1, 3, 9])), /^Conv1d/, /expected 2/);
    throwsShape(
      () => new nn.ConvTranspose2d(4, 2, 3).call(zeros([1, 3, 5, 5])),
      /^ConvTranspose2d/,
      /expected 4/,
    );
    throwsShape(() => new nn.MaxPool2d(2).call(zeros([4, 4])), /^MaxPool2d/, /\(N, C, H, W\)/);
    throwsShape(() => new nn.AdaptiveAvgPool2d(2).call(zeros([4])), /^AdaptiveAvgPool2d/);
    throwsShape(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /groups=2 must divide/);
  });
  await t.step("normalization layers: channels, trailing shape, batch size", () => {
    throwsShape(
      () => new nn.BatchNorm2d(3).call(zeros([2, 3, 4])),
      /^BatchNorm2d\(3\)/,
      /expected \(N, 3, H, W\)/,
    );
    throwsShape(() => new nn.BatchNorm1d(4).call(zeros([5, 3])), /has 3 channels/, /expected 4/);
    throwsShape(() => new nn.BatchNorm1d(4).call(zeros([1, 4])), /more than 1 value per channel/);
    throwsShape(
      () => new nn.LayerNorm(6).call(zeros([3, 5])),
      /^LayerNorm\(\(6,\)\)/,
      /expected \(\*, 6\)/,
    );
    throwsShape(() => new nn.RMSNorm([2, 3]).call(zeros([3, 2])), /expected \(\*, 2, 3\)/);
    throwsShape(() => new nn.GroupNorm(2, 6).call(zeros([3, 4, 5])), /^GroupNorm\(2, 6\)/);
    throwsShape(() => new nn.GroupNorm(4, 6), /divisible/);
  });
  await t.step("embedding: integer indices only", () => {
    assert.throws(
      () => new nn.Embedding(5, 2).call(zeros([3])),
      (e: Error) =>
        e instanceof DTypeError && /^Embedding\(5, 2\): indices must be an integer/.test(e.message),
    );
  });
});

Deno.test("functional forms pass gradcheck in f64 (finite differences)", async (t) => {
  const F = nn.functional;
  const f64 = (shape: number[], s: number, lo = -1, hi = 1) =>
    makeTensor(shape, "f64", s, "contiguous", { lo, hi }).requireGrad();
  const cases: [string, () => boolean][] = [
    ["linear", () => gradcheck(F.linear, [f64([3, 4], 1), f64([2, 4], 2), f64([2], 3)])],
    [
      "convTranspose2d (stride 2, padding 1, outputPadding 1, groups 2)",
      () =>
        gradcheck(
          (x, w, b) =>
            F.convTranspose2d(x, w, {
              bias: b,
              stride: 2,
              padding: 1,
              outputPadding: 1,
              groups: 2,
            }),
          [f64([1, 2, 2, 2], 4), f64([2, 1, 3, 3], 5), f64([2], 6)],
        ),
    ],
    [
      "batchNorm (training: batch statistics)",
      () =>
        gradcheck(
          (x, w, b) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }),
          [f64([4, 3, 2], 7), f64([3], 8), f64([3], 9)],
        ),
    ],
    [
      "layerNorm",
      () =>
        gradcheck((x, w, b) => F.layerNorm(x, [4], { weight: w, bias: b }), [
          f64([3, 4], 10),
          f64([4], 11),
          f64([4], 12),
        ]),
    ],
    [
      "rmsNorm",
      () => gradcheck((x, w) => F.rmsNorm(x, [4], { weight: w }), [f64([3, 4], 13), f64([4], 14)]),
    ],
    [
      "groupNorm",
      () =>
        gradcheck((x, w, b) => F.groupNorm(x, 2, { weight: w, bias: b }), [
          f64([2, 4, 3], 15),
          f64([4], 16),
          f64([4], 17),
        ]),
    ],
    [
      "adaptiveAvgPool2d([2, 3]) on 5×4",
      () => gradcheck((x) => F.adaptiveAvgPool2d(x, [2, 3]), [f64([1, 2, 5, 4], 18)]),
    ],
    [
      "embedding (paddingIdx zeroes a gradient on purpose, so none here)",
      () =>
        gradcheck(
          (w) => F.embedding(tensor([[0, 2], [2, 3]], { dtype: "i32" }), w),
          [f64([4, 3], 19)],
        ),
    ],
    ["prelu per channel", () => gradcheck(F.prelu, [f64([2, 3, 2], 20), f64([3], 21, 0.1, 0.5)])],
  ];
  for (const [name, run] of cases) await t.step(name, () => assert.equal(run(), true));
});
