/**
 * `nn.init` and the layers' default initialization: gains and fans equal PyTorch's, and the
 * drawn values have the bounds and standard deviations of PyTorch's formulas (statistical tests
 * on large tensors, with torch's own draws measured alongside).
 */
import assert from "node:assert/strict";
import { DTypeError, Generator, nn, seed, ShapeError, type Tensor, zeros } from "../../mod.ts";
import { needsTorch, numpy } from "../helpers/numpy.ts";

function stats(t: Tensor): { mean: number; std: number; maxAbs: number } {
  const v = t.dataSync() as Float32Array;
  let s = 0, s2 = 0, m = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
    m = Math.max(m, Math.abs(x));
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), maxAbs: m };
}

Deno.test({
  name: "calculateGain and calculateFans equal PyTorch's",
  ...needsTorch,
  async fn() {
    const gains: [nn.init.Nonlinearity, number | undefined, string][] = [
      ["linear", undefined, "'linear'"],
      ["conv2d", undefined, "'conv2d'"],
      ["sigmoid", undefined, "'sigmoid'"],
      ["tanh", undefined, "'tanh'"],
      ["relu", undefined, "'relu'"],
      ["leakyRelu", undefined, "'leaky_relu'"],
      ["leakyRelu", 0.2, "'leaky_relu', 0.2"],
      ["leakyRelu", Math.sqrt(5), "'leaky_relu', math.sqrt(5)"],
      ["selu", undefined, "'selu'"],
    ];
    const shapes = [[3, 4], [16, 3, 5, 5], [8, 4, 3], [2, 7, 1, 1, 3]];
    const [r] = await numpy([{
      setup: "import torch, math",
      expr: `[np.array([${
        gains.map(([, , py]) => `torch.nn.init.calculate_gain(${py})`).join(", ")
      }]), np.array([torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(s)) for s in shapes])]`,
      scalars: { shapes },
    }]);
    assert.equal(r.error, undefined, r.error);
    gains.forEach(([n, p], i) =>
      assert.ok(
        Math.abs(nn.init.calculateGain(n, p) - r.results[0].values[i]) < 1e-12,
        `gain ${n} ${p}`,
      )
    );
    shapes.forEach((s, i) => {
      const t = zeros(s);
      const f = nn.init.calculateFans(t);
      assert.deepEqual([f.fanIn, f.fanOut], [...r.results[1].values.slice(2 * i, 2 * i + 2)]);
      t.dispose();
    });
  },
});

Deno.test({
  name: "initializers draw with PyTorch's bounds and standard deviations",
  ...needsTorch,
  async fn() {
    // Each case: our initializer on a fresh tensor, the same call in torch; compare the std and
    // (for uniform ones) the bound. Tensors of 10^5 elements: the sample std is within ~0.5% of
    // the true one (σ/√(2n)), so 2% is a safe, still sharp bound; both draws are also checked
    // against each other.
    interface Case {
      name: string;
      shape: number[];
      ours: (t: Tensor) => Tensor;
      torch: string; // python statement over t
      std: number; // the formula's standard deviation
      bound?: number; // the uniform bound
      mean?: number;
    }
    const s5 = Math.sqrt(5);
    const cases: Case[] = [
      {
        name: "kaimingUniform (defaults: a=0, fanIn, leakyRelu)",
        shape: [250, 400],
        ours: (t) => nn.init.kaimingUniform(t),
        torch: "torch.nn.init.kaiming_uniform_(t)",
        std: Math.SQRT2 / Math.sqrt(400),
        bound: Math.sqrt(6 / 400),
      },
      {
        name: "kaimingUniform(a=√5) (Linear's default)",
        shape: [250, 400],
        ours: (t) => nn.init.kaimingUniform(t, { a: s5 }),
        torch: "torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5))",
        std: 1 / Math.sqrt(3 * 400),
        bound: 1 / Math.sqrt(400),
      },
      {
        name: "kaimingNormal(fanOut, relu) on a conv weight",
        shape: [64, 32, 7, 7],
        ours: (t) => nn.init.kaimingNormal(t, { mode: "fanOut", nonlinearity: "relu" }),
        torch: "torch.nn.init.kaiming_normal_(t, mode='fan_out', nonlinearity='relu')",
        std: Math.sqrt(2 / (64 * 49)),
      },
      {
        name: "xavierUniform(gain=2)",
        shape: [300, 200],
        ours: (t) => nn.init.xavierUniform(t, { gain: 2 }),
        torch: "torch.nn.init.xavier_uniform_(t, gain=2)",
        std: 2 * Math.sqrt(2 / 500),
        bound: 2 * Math.sqrt(6 / 500),
      },
      {
        name: "xavierNormal",
        shape: [300, 200],
        ours: (t) => nn.init.xavierNormal(t),
        torch: "torch.nn.init.xavier_normal_(t)",
        std: Math.sqrt(2 / 500),
      },
      {
        name: "uniform(-2, 5)",
        shape: [100000],
        ours: (t) => nn.init.uniform(t, -2, 5),
        torch: "torch.nn.init.uniform_(t, -2, 5)",
        std: 7 / Math.sqrt(12),
        mean: 1.5,
      },
      {
        name: "normal(3, 0.5)",
        shape: [100000],
        ours: (t) => nn.init.normal(t, 3, 0.5),
        torch: "torch.nn.init.normal_(t, 3, 0.5)",
        std: 0.5,
        mean: 3,
      },
    ];
    seed(0);
    const ours = cases.map((c) => c.ours(zeros(c.shape)));
    const res = await numpy(cases.map((c) => ({
      setup: "import torch, math\ntorch.manual_seed(0)",
      expr: `(lambda t: (${c.torch}, np.array([t.mean().item(), t.std().item(), ` +
        `t.abs().max().item()]))[1])(torch.empty(shape))`,
      scalars: { shape: c.shape },
    })));
    cases.forEach((c, i) => {
      const r = res[i];
      assert.equal(r.error, undefined, r.error);
      const [tMean, tStd, tMax] = r.results[0].values;
      const s = stats(ours[i]);
      const m = c.mean ?? 0;
      assert.ok(Math.abs(s.std / c.std - 1) < 0.02, `${c.name}: std ${s.std} vs formula ${c.std}`);
      assert.ok(Math.abs(tStd / c.std - 1) < 0.02, `${c.name}: torch std ${tStd} vs ${c.std}`);
      assert.ok(Math.abs(s.mean - m) < 0.02 * c.std * 5, `${c.name}: mean ${s.mean}`);
      assert.ok(Math.abs(tMean - m) < 0.02 * c.std * 5, `${c.name}: torch mean ${tMean}`);
      if (c.bound !== undefined) {
        // every value inside the bound, and the extremes reach it (n = 10^5 draws)
        assert.ok(s.maxAbs <= c.bound * (1 + 1e-6), `${c.name}: max ${s.maxAbs} > ${c.bound}`);
        assert.ok(s.maxAbs > 0.999 * c.bound, `${c.name}: max ${s.maxAbs} ≪ ${c.bound}`);
        assert.ok(Math.abs(tMax / s.maxAbs - 1) < 1e-3, `${c.name}: torch max ${tMax}`);
      }
      ours[i].dispose();
    });
  },
});

Deno.test({
  name: "layers' default initialization matches PyTorch's (statistics of torch's own layers)",
  ...needsTorch,
  async fn() {
    seed(0);
    const layers: [string, () => nn.AnyModule, string][] = [
      ["Linear(400, 300)", () => new nn.Linear(400, 300), "torch.nn.Linear(400, 300)"],
      [
        "Conv2d(32, 64, 5, groups=2)",
        () => new nn.Conv2d(32, 64, 5, { groups: 2 }),
        "torch.nn.Conv2d(32, 64, 5, groups=2)",
      ],
      ["Conv1d(16, 64, 7)", () => new nn.Conv1d(16, 64, 7), "torch.nn.Conv1d(16, 64, 7)"],
      [
        "ConvTranspose2d(64, 32, 4)",
        () => new nn.ConvTranspose2d(64, 32, 4),
        "torch.nn.ConvTranspose2d(64, 32, 4)",
      ],
      ["Embedding(500, 64)", () => new nn.Embedding(500, 64), "torch.nn.Embedding(500, 64)"],
    ];
    const mods = layers.map(([, f]) => f());
    const res = await numpy(layers.map(([, , py]) => ({
      setup: "import torch\ntorch.manual_seed(0)",
      expr: `[np.array([p.std().item(), p.abs().max().item()]) for p in ${py}.parameters()]`,
    })));
    layers.forEach(([name], i) => {
      const r = res[i];
      assert.equal(r.error, undefined, r.error);
      const ps = mods[i].parameters();
      assert.equal(ps.length, r.results.length);
      ps.forEach((p, j) => {
        const [tStd, tMax] = r.results[j].values;
        const s = stats(p);
        // bias vectors are short (32..300 values): a looser 15% on std, 5% on the extreme
        const small = p.size < 2000;
        assert.ok(Math.abs(s.std / tStd - 1) < (small ? 0.15 : 0.03), `${name} #${j} std`);
        if (name.startsWith("Embedding")) return;
        assert.ok(
          s.maxAbs <= tMax * 1.05 && s.maxAbs > tMax * (small ? 0.9 : 0.99),
          `${name} #${j} bound`,
        );
      });
      mods[i].dispose();
    });
  },
});

Deno.test("initialization: seeding, fills and errors", async (t) => {
  await t.step("seed() makes layer initialization reproducible; a generator is independent", () => {
    seed(42);
    const a = new nn.Linear(8, 4);
    seed(42);
    const b = new nn.Linear(8, 4);
    assert.deepEqual(a.weight.toArraySync(), b.weight.toArraySync());
    assert.deepEqual(a.bias!.toArraySync(), b.bias!.toArraySync());
    const c = new nn.Linear(8, 4, { generator: new Generator(1) });
    const d = new nn.Linear(8, 4, { generator: new Generator(1) });
    assert.deepEqual(c.weight.toArraySync(), d.weight.toArraySync());
    assert.notDeepEqual(c.weight.toArraySync(), a.weight.toArraySync());
    for (const m of [a, b, c, d]) m.dispose();
  });

  await t.step("fills keep requiresGrad, dtype and identity; record no graph", () => {
    const w = zeros([3, 2], { dtype: "f64" }).requireGrad();
    assert.equal(nn.init.constant(w, 0.5), w);
    assert.deepEqual(w.toArraySync(), [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]);
    assert.ok(w.requiresGrad && w.isLeaf && w.dtype === "f64");
    nn.init.ones(w);
    assert.equal(w.sum().item(), 6);
    nn.init.zeros(w);
    assert.equal(w.abs().sum().item(), 0);
    w.dispose();
  });

  await t.step(
    "defaults of norms and embeddings: ones, zeros, N(0, 1) with a zero padding row",
    () => {
      const bn = new nn.BatchNorm2d(3);
      assert.deepEqual(bn.weight!.toArraySync(), [1, 1, 1]);
      assert.deepEqual(bn.bias!.toArraySync(), [0, 0, 0]);
      assert.deepEqual(bn.runningVar!.toArraySync(), [1, 1, 1]);
      const ln = new nn.LayerNorm([2, 2]);
      assert.deepEqual(ln.weight!.toArraySync(), [[1, 1], [1, 1]]);
      const emb = new nn.Embedding(6, 3, { paddingIdx: -1 });
      assert.equal(emb.paddingIdx, 5);
      assert.deepEqual(emb.weight.select(0, 5).toArraySync(), [0, 0, 0]);
      for (const m of [bn, ln, emb]) m.dispose();
    },
  );

  await t.step("bad arguments are typed errors", () => {
    assert.throws(() => nn.init.calculateFans(zeros([5])), ShapeError);
    assert.throws(() => nn.init.kaimingUniform(zeros([4])), ShapeError);
    assert.throws(() => nn.init.uniform(zeros([2], { dtype: "i32" })), DTypeError);
    assert.throws(() => nn.init.calculateGain("swish" as nn.init.Nonlinearity), DTypeError);
    assert.throws(
      () => nn.init.kaimingNormal(zeros([2, 2]), { mode: "fan_in" as nn.init.FanMode }),
      DTypeError,
    );
  });
});
