/**
 * Optimizers against torch.optim: 20-step parameter trajectories on a fixed least-squares loss
 * (f64 strict, f32 within 1e-5), parameter groups, state dicts, errors, and steady memory.
 */
import assert from "node:assert/strict";
import { type DType, memory, optim, type Tensor, tensor, tidy } from "../../mod.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";
import { makeTensor } from "../helpers/gen.ts";

type Make = (W: Tensor, b: Tensor) => optim.Optimizer;

interface Case {
  name: string;
  ours: Make;
  /** Python lambda (W, b) -> torch optimizer. */
  torch: string;
  /** Maximize the negated loss (for `maximize`). */
  negate?: boolean;
}

const cases: Case[] = [
  {
    name: "SGD plain",
    ours: (W, b) => new optim.SGD([W, b], { lr: 0.05 }),
    torch: "torch.optim.SGD([W, b], lr=0.05)",
  },
  {
    name: "SGD default lr",
    ours: (W, b) => new optim.SGD([W, b]),
    torch: "torch.optim.SGD([W, b])",
  },
  {
    name: "SGD momentum + dampening + weight decay",
    ours: (W, b) =>
      new optim.SGD([W, b], { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }),
    torch: "torch.optim.SGD([W, b], lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)",
  },
  {
    name: "SGD nesterov",
    ours: (W, b) => new optim.SGD([W, b], { lr: 0.05, momentum: 0.8, nesterov: true }),
    torch: "torch.optim.SGD([W, b], lr=0.05, momentum=0.8, nesterov=True)",
  },
  {
    name: "SGD maximize",
    ours: (W, b) => new optim.SGD([W, b], { lr: 0.05, momentum: 0.5, maximize: true }),
    torch: "torch.optim.SGD([W, b], lr=0.05, momentum=0.5, maximize=True)",
    negate: true,
  },
  {
    name: "SGD parameter groups",
    ours: (W, b) =>
      new optim.SGD([{ params: [W] }, { params: [b], lr: 0.2, momentum: 0.5, weightDecay: 0.1 }], {
        lr: 0.05,
        momentum: 0.9,
      }),
    torch:
      "torch.optim.SGD([{'params': [W]}, {'params': [b], 'lr': 0.2, 'momentum': 0.5, 'weight_decay': 0.1}], lr=0.05, momentum=0.9)",
  },
  {
    name: "Adam defaults",
    ours: (W, b) => new optim.Adam([W, b]),
    torch: "torch.optim.Adam([W, b])",
  },
  {
    name: "Adam lr, betas, eps, weight decay",
    ours: (W, b) =>
      new optim.Adam([W, b], { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }),
    torch: "torch.optim.Adam([W, b], lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)",
  },
  {
    name: "Adam amsgrad",
    ours: (W, b) => new optim.Adam([W, b], { lr: 0.05, amsgrad: true }),
    torch: "torch.optim.Adam([W, b], lr=0.05, amsgrad=True)",
  },
  {
    name: "Adam maximize + amsgrad + weight decay",
    ours: (W, b) =>
      new optim.Adam([W, b], { lr: 0.05, amsgrad: true, maximize: true, weightDecay: 0.05 }),
    torch: "torch.optim.Adam([W, b], lr=0.05, amsgrad=True, maximize=True, weight_decay=0.05)",
    negate: true,
  },
  {
    name: "Adam parameter groups",
    ours: (W, b) =>
      new optim.Adam(
        [{ params: [W], lr: 0.1 }, { params: [b], betas: [0.5, 0.9], amsgrad: true }],
        {
          lr: 0.02,
        },
      ),
    torch:
      "torch.optim.Adam([{'params': [W], 'lr': 0.1}, {'params': [b], 'betas': (0.5, 0.9), 'amsgrad': True}], lr=0.02)",
  },
  {
    name: "AdamW defaults",
    ours: (W, b) => new optim.AdamW([W, b]),
    torch: "torch.optim.AdamW([W, b])",
  },
  {
    name: "AdamW weight decay + amsgrad",
    ours: (W, b) => new optim.AdamW([W, b], { lr: 0.05, weightDecay: 0.3, amsgrad: true }),
    torch: "torch.optim.AdamW([W, b], lr=0.05, weight_decay=0.3, amsgrad=True)",
  },
  {
    name: "AdamW maximize",
    ours: (W, b) => new optim.AdamW([W, b], { lr: 0.05, maximize: true }),
    torch: "torch.optim.AdamW([W, b], lr=0.05, maximize=True)",
    negate: true,
  },
  {
    name: "RMSprop defaults",
    ours: (W, b) => new optim.RMSprop([W, b]),
    torch: "torch.optim.RMSprop([W, b])",
  },
  {
    name: "RMSprop alpha, eps, weight decay",
    ours: (W, b) =>
      new optim.RMSprop([W, b], { lr: 0.01, alpha: 0.9, eps: 1e-4, weightDecay: 0.1 }),
    torch: "torch.optim.RMSprop([W, b], lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.1)",
  },
  {
    name: "RMSprop momentum",
    ours: (W, b) => new optim.RMSprop([W, b], { lr: 0.005, momentum: 0.9 }),
    torch: "torch.optim.RMSprop([W, b], lr=0.005, momentum=0.9)",
  },
  {
    name: "RMSprop centered + momentum",
    ours: (W, b) => new optim.RMSprop([W, b], { lr: 0.005, momentum: 0.5, centered: true }),
    torch: "torch.optim.RMSprop([W, b], lr=0.005, momentum=0.5, centered=True)",
  },
  {
    name: "RMSprop centered maximize",
    ours: (W, b) => new optim.RMSprop([W, b], { lr: 0.005, centered: true, maximize: true }),
    torch: "torch.optim.RMSprop([W, b], lr=0.005, centered=True, maximize=True)",
    negate: true,
  },
  {
    name: "RMSprop parameter groups",
    ours: (W, b) =>
      new optim.RMSprop([{ params: [W] }, { params: [b], centered: true, alpha: 0.5 }], {
        lr: 0.01,
      }),
    torch:
      "torch.optim.RMSprop([{'params': [W]}, {'params': [b], 'centered': True, 'alpha': 0.5}], lr=0.01)",
  },
  {
    name: "Adagrad defaults",
    ours: (W, b) => new optim.Adagrad([W, b]),
    torch: "torch.optim.Adagrad([W, b])",
  },
  {
    name: "Adagrad lrDecay, weight decay, initial accumulator, eps",
    ours: (W, b) =>
      new optim.Adagrad([W, b], {
        lr: 0.1,
        lrDecay: 0.05,
        weightDecay: 0.1,
        initialAccumulatorValue: 0.5,
        eps: 1e-6,
      }),
    torch:
      "torch.optim.Adagrad([W, b], lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)",
  },
  {
    name: "Adagrad maximize + parameter groups",
    ours: (W, b) =>
      new optim.Adagrad([{ params: [W] }, { params: [b], lr: 0.3, lrDecay: 0.1 }], {
        lr: 0.1,
        maximize: true,
      }),
    torch:
      "torch.optim.Adagrad([{'params': [W]}, {'params': [b], 'lr': 0.3, 'lr_decay': 0.1}], lr=0.1, maximize=True)",
    negate: true,
  },
];

const STEPS = 20;

const TORCH_SETUP = `
import torch
torch.set_num_threads(1)
def run_opt(make, dtype, X, Y, W0, b0, steps, negate):
    X = torch.tensor(X, dtype=dtype); Y = torch.tensor(Y, dtype=dtype)
    W = torch.tensor(W0, dtype=dtype, requires_grad=True)
    b = torch.tensor(b0, dtype=dtype, requires_grad=True)
    opt = make(W, b)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((X @ W + b - Y) ** 2).mean()
        if negate:
            loss = -loss
        loss.backward()
        opt.step()
        out.append(torch.cat([W.detach().flatten(), b.detach().flatten()]).numpy().copy())
    return np.stack(out)
`;

/** The data of the fixed problem: X (8, 3), Y (8, 4), W0 (3, 4), b0 (4,). */
function problem(dtype: DType) {
  return {
    X: makeTensor([8, 3], dtype, 1),
    Y: makeTensor([8, 4], dtype, 2),
    W0: makeTensor([3, 4], dtype, 3),
    b0: makeTensor([4], dtype, 4),
  };
}

/** Our trajectory: parameters (W then b, flattened) after each of `steps` steps. */
function runOurs(
  c: Case,
  p: ReturnType<typeof problem>,
  steps = STEPS,
  after?: (opt: optim.Optimizer, W: Tensor, b: Tensor, i: number) => optim.Optimizer,
): Tensor {
  const W = p.W0.clone().requireGrad();
  const b = p.b0.clone().requireGrad();
  let opt = c.ours(W, b);
  const n = W.size + b.size;
  const out = new Float64Array(steps * n);
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    tidy(() => {
      let loss = p.X.matmul(W).add(b).sub(p.Y).square().mean();
      if (c.negate) loss = loss.neg();
      loss.backward();
    });
    opt.step();
    out.set(Float64Array.from(W.dataSync() as Float32Array), i * n);
    out.set(Float64Array.from(b.dataSync() as Float32Array), i * n + W.size);
    if (after) opt = after(opt, W, b, i);
  }
  opt.disposeState();
  opt.zeroGrad();
  W.dispose();
  b.dispose();
  return tensor(out, { shape: [steps, n] });
}

function refCase(c: Case, p: ReturnType<typeof problem>, dtype: DType) {
  return {
    setup: TORCH_SETUP,
    expr: `run_opt(lambda W, b: ${c.torch}, torch.${dtype === "f64" ? "float64" : "float32"}, ` +
      `X, Y, W0, b0, ${STEPS}, ${c.negate ? "True" : "False"})`,
    arrays: p,
  };
}

Deno.test({
  name: "optimizers follow torch.optim's 20-step trajectories",
  ...needsTorch,
  async fn(t) {
    const p64 = problem("f64");
    const p32 = problem("f32");
    const refs = await numpy([
      ...cases.map((c) => refCase(c, p64, "f64")),
      ...cases.map((c) => refCase(c, p32, "f32")),
    ]);
    for (const [i, c] of cases.entries()) {
      await t.step(`${c.name} (f64, 1e-10)`, () => {
        const r = refs[i];
        assert.equal(r.error, undefined, r.error);
        const ours = runOurs(c, p64);
        assertMatches(ours, r.results[0], { rtol: 1e-10, atol: 1e-10 }, c.name);
        ours.dispose();
      });
      await t.step(`${c.name} (f32, 1e-5)`, () => {
        const r = refs[cases.length + i];
        assert.equal(r.error, undefined, r.error);
        const ours = runOurs(c, p32);
        assertMatches(ours, r.results[0], { rtol: 1e-5, atol: 1e-5, dtype: false }, c.name);
        ours.dispose();
      });
    }
    for (const v of [...Object.values(p64), ...Object.values(p32)]) v.dispose();
  },
});

Deno.test("optimizer state dicts resume a run exactly", async (t) => {
  const p = problem("f64");
  for (const c of cases) {
    await t.step(`${c.name}: stateDict after 10 steps → new optimizer → same trajectory`, () => {
      const straight = runOurs(c, p);
      // Rebuild the optimizer after step 10 from the state dict of the first.
      const resumed = runOurs(c, p, STEPS, (opt, W, b, i) => {
        if (i !== 9) return opt;
        const sd = opt.stateDict();
        assert.deepEqual(
          sd.paramGroups.flatMap((g) => g.params),
          [0, 1],
        );
        const fresh = c.ours(W, b);
        fresh.loadStateDict(sd);
        opt.disposeState();
        return fresh;
      });
      assert.deepEqual(resumed.dataSync(), straight.dataSync());
      straight.dispose();
      resumed.dispose();
    });
  }
  await t.step("the structure is PyTorch's: state by index, groups with options", () => {
    const W = tensor([1, 2]).requireGrad();
    const b = tensor([3]).requireGrad();
    const opt = new optim.Adam([{ params: [W] }, { params: [b], lr: 0.5 }], { amsgrad: true });
    tidy(() => W.square().sum().add(b.square().sum()).backward());
    opt.step();
    const sd = opt.stateDict();
    assert.deepEqual(Object.keys(sd.state), ["0", "1"]);
    assert.deepEqual(Object.keys(sd.state[0]).sort(), [
      "expAvg",
      "expAvgSq",
      "maxExpAvgSq",
      "step",
    ]);
    assert.equal(sd.state[0].step, 1);
    assert.deepEqual(sd.paramGroups[1], {
      lr: 0.5,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: true,
      maximize: false,
      decoupledWeightDecay: false,
      params: [1],
    });
    opt.disposeState();
    opt.zeroGrad();
    W.dispose();
    b.dispose();
  });
  await t.step("loadStateDict rejects a state dict that does not fit", () => {
    const W = tensor([1, 2]).requireGrad();
    const b = tensor([3]).requireGrad();
    const opt = new optim.SGD([W, b], { momentum: 0.9 });
    tidy(() => W.square().sum().add(b.square().sum()).backward());
    opt.step();
    const sd = opt.stateDict();
    const other = new optim.SGD([W], { momentum: 0.9 });
    assert.throws(
      () => other.loadStateDict(sd),
      (e: Error) => e instanceof optim.OptimizerError && /1 in the optimizer/.test(e.message),
    );
    const swapped = new optim.SGD([b, W], { momentum: 0.9 });
    assert.throws(
      () => swapped.loadStateDict(sd),
      (e: Error) => e instanceof optim.OptimizerError && /shape/.test(e.message),
    );
    const twoGroups = new optim.SGD([{ params: [W] }, { params: [b] }]);
    assert.throws(() => twoGroups.loadStateDict(sd), /2 parameter groups|1 parameter groups/);
    opt.disposeState();
    opt.zeroGrad();
    W.dispose();
    b.dispose();
  });
  for (const v of Object.values(p)) v.dispose();
});

Deno.test("optimizer bad input gives typed errors", async (t) => {
  await t.step("a non-leaf parameter names its index and suggests detach()", () => {
    const w = tensor([1, 2]).requireGrad();
    const v = tensor([3]).requireGrad();
    const y = w.mul(2);
    for (
      const make of [
        () => new optim.SGD([v, y]),
        () => new optim.Adam([v, y]),
        () => new optim.AdamW([{ params: [v] }, { params: [y] }]),
        () => new optim.RMSprop([v, y]),
        () => new optim.Adagrad([v, y]),
      ]
    ) {
      assert.throws(
        make,
        (e: Error) =>
          e instanceof optim.OptimizerError && /parameter 1 /.test(e.message) &&
          /not a leaf/.test(e.message) && /detach\(\)/.test(e.message),
      );
    }
    y.dispose();
    w.dispose();
    v.dispose();
  });
  await t.step("invalid options, duplicates and empty lists", () => {
    const w = tensor([1, 2]).requireGrad();
    const bad: [() => unknown, RegExp][] = [
      [() => new optim.SGD([]), /empty parameter list/],
      [() => new optim.SGD([w, w]), /more than once/],
      [() => new optim.SGD([w], { lr: -1 }), /learning rate/],
      [() => new optim.SGD([w], { nesterov: true }), /Nesterov/],
      [() => new optim.SGD([w], { momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/],
      [() => new optim.Adam([w], { betas: [1, 0.9] }), /beta parameter at index 0/],
      [() => new optim.Adam([w], { betas: [0.9, -0.1] }), /beta parameter at index 1/],
      [() => new optim.Adam([w], { eps: -1 }), /eps/],
      [() => new optim.RMSprop([w], { alpha: -1 }), /alpha/],
      [() => new optim.Adagrad([w], { lrDecay: -1 }), /lrDecay/],
    ];
    for (const [f, re] of bad) {
      assert.throws(f, (e: Error) => e instanceof optim.OptimizerError && re.test(e.message));
    }
    const opt = new optim.SGD([w]);
    assert.throws(() => opt.addParamGroup({ params: [w] }), /more than once/);
    w.dispose();
  });
});

Deno.test("optimizer basics: zeroGrad, in-place updates, closures, addParamGroup", async (t) => {
  await t.step("step updates the parameter's own storage (modules keep their tensors)", () => {
    const w = tensor([1, 2]).requireGrad();
    const storage = w.storage;
    const view = w.slice("1:");
    const opt = new optim.SGD([w], { lr: 0.5 });
    tidy(() => w.square().sum().backward());
    opt.step();
    assert.equal(w.storage, storage);
    assert.deepEqual(w.toArraySync(), [0, 0]);
    assert.deepEqual(view.toArraySync(), [0]);
    assert.ok(w.isLeaf && w.requiresGrad);
    opt.zeroGrad();
    view.dispose();
    w.dispose();
  });
  await t.step("zeroGrad frees grads, or zero-fills them with setToNone false", () => {
    const w = tensor([1, 2]).requireGrad();
    const opt = new optim.SGD([w]);
    tidy(() => w.square().sum().backward());
    const grad = w.grad!;
    opt.zeroGrad({ setToNone: false });
    assert.equal(w.grad, grad);
    assert.deepEqual(w.grad!.toArraySync(), [0, 0]);
    opt.zeroGrad();
    assert.equal(w.grad, null);
    assert.ok(grad.disposed);
    w.dispose();
  });
  await t.step("parameters without gradients are skipped", () => {
    const w = tensor([1, 2]).requireGrad();
    const frozen = tensor([5]).requireGrad();
    const opt = new optim.Adam([w, frozen], { lr: 0.1 });
    tidy(() => w.square().sum().backward());
    opt.step();
    assert.deepEqual(frozen.toArraySync(), [5]);
    assert.equal(opt.state.has(frozen), false);
    opt.disposeState();
    opt.zeroGrad();
    w.dispose();
    frozen.dispose();
  });
  await t.step("step(closure) returns the closure's loss", () => {
    const w = tensor([3]).requireGrad();
    const opt = new optim.SGD([w], { lr: 0.25 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      return tidy(() => {
        const l = w.square().sum();
        l.backward();
        return l.item() as number;
      });
    });
    assert.equal(loss, 9);
    assert.deepEqual(w.toArraySync(), [1.5]);
    opt.zeroGrad();
    w.dispose();
  });
  await t.step("addParamGroup takes the defaults for options it omits", () => {
    const w = tensor([1]).requireGrad();
    const b = tensor([1]).requireGrad();
    const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9 });
    opt.addParamGroup({ params: [b], lr: 0.01 });
    assert.equal(opt.paramGroups[1].lr, 0.01);
    assert.equal(opt.paramGroups[1].momentum, 0.9);
    w.dispose();
    b.dispose();
  });
  await t.step("gradient accumulation: two half-batches equal one full batch", () => {
    const x = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const run = (chunks: number) => {
      const w = tensor([0.5, -0.5]).requireGrad();
      const opt = new optim.SGD([w], { lr: 0.01 });
      opt.zeroGrad();
      for (const part of x.split(chunks)) {
        tidy(() => part.matmul(w).square().mean().div(chunks).backward());
        part.dispose();
      }
      opt.step();
      const out = w.toArraySync();
      opt.zeroGrad();
      w.dispose();
      return out as number[];
    };
    const full = run(1), halves = run(2);
    full.forEach((v, i) => assert.ok(Math.abs(v - halves[i]) < 1e-6));
    x.dispose();
  });
});

Deno.test("a 1000-step training loop holds steady memory", async (t) => {
  const makers: [string, (ps: Tensor[]) => optim.Optimizer][] = [
    [
      "SGD",
      (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
    ],
    ["Adam", (ps) => new optim.Adam(ps, { lr: 1e-3, amsgrad: true, weightDecay: 1e-4 })],
    ["AdamW", (ps) => new optim.AdamW(ps, { lr: 1e-3 })],
    ["RMSprop", (ps) => new optim.RMSprop(ps, { centered: true, momentum: 0.5 })],
    ["Adagrad", (ps) => new optim.Adagrad(ps, { lrDecay: 0.01 })],
  ];
  const X = makeTensor([16, 4], "f32", 5);
  const Y = makeTensor([16, 2], "f32", 6);
  for (const [name, make] of makers) {
    await t.step(`${name} with a scheduler and clipping`, () => {
      const W = makeTensor([4, 2], "f32", 7).requireGrad();
      const b = makeTensor([2], "f32", 8).requireGrad();
      const opt = make([W, b]);
      const sched = new optim.CosineAnnealingLR(opt, { tMax: 100 });
      const trainStep = () => {
        opt.zeroGrad();
        tidy(() => X.matmul(W).add(b).sub(Y).square().mean().backward());
        optim.clipGradNorm([W, b], 1.0).dispose();
        optim.clipGradValue([W, b], 0.5);
        opt.step();
        sched.step();
      };
      for (let i = 0; i < 10; i++) trainStep(); // state exists from here on
      const before = memory();
      for (let i = 0; i < 1000; i++) trainStep();
      const after = memory();
      assert.equal(after.tensors, before.tensors, "live tensors");
      assert.equal(after.devices.cpu.bytes, before.devices.cpu.bytes, "live bytes");
      opt.disposeState();
      opt.zeroGrad();
      W.dispose();
      b.dispose();
    });
  }
  X.dispose();
  Y.dispose();
});
