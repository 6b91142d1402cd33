/**
 * Learning-rate schedulers against torch.optim.lr_scheduler: 30-step LR sequences (two parameter
 * groups; OneCycleLR's momentum too), ReduceLROnPlateau on given metric sequences, state dicts.
 */
import assert from "node:assert/strict";
import { optim, type Tensor, tensor } from "../../mod.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";

type Opt = "sgd" | "adam";

interface Case {
  name: string;
  opt: Opt;
  ours: (opt: optim.Optimizer) => optim.Scheduler;
  /** Python lambda opt -> torch scheduler (`S` is torch.optim.lr_scheduler). */
  torch: string;
  metrics?: number[];
  momentum?: boolean;
}

const STEPS = 30;

const plateau = [
  5,
  4,
  4.1,
  4.05,
  4,
  3.9996,
  3.5,
  3.6,
  3.7,
  3.8,
  3.9,
  3.4,
  3.45,
  3.5,
  3.55,
  3.6,
  3.3,
  3.3,
  3.3,
  3.3,
  3.3,
  3.3,
  3.3,
  2,
  2.1,
  2.2,
  2.3,
  2.4,
  2.5,
  2.6,
];
const rising = plateau.map((m) => 10 - m);

const cases: Case[] = [
  {
    name: "StepLR",
    opt: "sgd",
    ours: (o) => new optim.StepLR(o, { stepSize: 3, gamma: 0.5 }),
    torch: "S.StepLR(opt, step_size=3, gamma=0.5)",
  },
  {
    name: "StepLR default gamma",
    opt: "adam",
    ours: (o) => new optim.StepLR(o, { stepSize: 7 }),
    torch: "S.StepLR(opt, step_size=7)",
  },
  {
    name: "MultiStepLR with a repeated milestone",
    opt: "sgd",
    ours: (o) => new optim.MultiStepLR(o, { milestones: [9, 2, 5, 5], gamma: 0.3 }),
    torch: "S.MultiStepLR(opt, milestones=[9, 2, 5, 5], gamma=0.3)",
  },
  {
    name: "ExponentialLR",
    opt: "sgd",
    ours: (o) => new optim.ExponentialLR(o, { gamma: 0.9 }),
    torch: "S.ExponentialLR(opt, gamma=0.9)",
  },
  {
    name: "CosineAnnealingLR past tMax (recursive form)",
    opt: "sgd",
    ours: (o) => new optim.CosineAnnealingLR(o, { tMax: 10, etaMin: 0.001 }),
    torch: "S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)",
  },
  {
    name: "CosineAnnealingLR odd tMax",
    opt: "adam",
    ours: (o) => new optim.CosineAnnealingLR(o, { tMax: 7 }),
    torch: "S.CosineAnnealingLR(opt, T_max=7)",
  },
  {
    name: "LinearLR",
    opt: "sgd",
    ours: (o) => new optim.LinearLR(o, { startFactor: 0.25, endFactor: 0.9, totalIters: 8 }),
    torch: "S.LinearLR(opt, start_factor=0.25, end_factor=0.9, total_iters=8)",
  },
  {
    name: "LinearLR defaults",
    opt: "adam",
    ours: (o) => new optim.LinearLR(o),
    torch: "S.LinearLR(opt)",
  },
  {
    name: "OneCycleLR cos with SGD momentum",
    opt: "sgd",
    ours: (o) => new optim.OneCycleLR(o, { maxLr: 1, totalSteps: STEPS }),
    torch: `S.OneCycleLR(opt, max_lr=1.0, total_steps=${STEPS})`,
    momentum: true,
  },
  {
    name: "OneCycleLR linear, three phases, Adam betas, per-group maxLr",
    opt: "adam",
    ours: (o) =>
      new optim.OneCycleLR(o, {
        maxLr: [1, 0.5],
        totalSteps: STEPS,
        annealStrategy: "linear",
        threePhase: true,
        pctStart: 0.25,
        divFactor: 10,
        finalDivFactor: 100,
        baseMomentum: 0.8,
        maxMomentum: [0.9, 0.95],
      }),
    torch: `S.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=${STEPS}, anneal_strategy='linear', ` +
      `three_phase=True, pct_start=0.25, div_factor=10.0, final_div_factor=100.0, ` +
      `base_momentum=0.8, max_momentum=[0.9, 0.95])`,
    momentum: true,
  },
  {
    name: "OneCycleLR from epochs × stepsPerEpoch without momentum cycling",
    opt: "sgd",
    ours: (o) =>
      new optim.OneCycleLR(o, { maxLr: 0.3, epochs: 6, stepsPerEpoch: 5, cycleMomentum: false }),
    torch: "S.OneCycleLR(opt, max_lr=0.3, epochs=6, steps_per_epoch=5, cycle_momentum=False)",
    momentum: true,
  },
  {
    name: "ReduceLROnPlateau min/rel, patience, cooldown, minLr",
    opt: "sgd",
    ours: (o) =>
      new optim.ReduceLROnPlateau(o, { patience: 2, cooldown: 1, factor: 0.5, minLr: 0.01 }),
    torch: "S.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5, min_lr=0.01)",
    metrics: plateau,
  },
  {
    name: "ReduceLROnPlateau defaults",
    opt: "adam",
    ours: (o) => new optim.ReduceLROnPlateau(o, { patience: 3 }),
    torch: "S.ReduceLROnPlateau(opt, patience=3)",
    metrics: plateau,
  },
  {
    name: "ReduceLROnPlateau max/abs, per-group minLr, eps",
    opt: "sgd",
    ours: (o) =>
      new optim.ReduceLROnPlateau(o, {
        mode: "max",
        thresholdMode: "abs",
        threshold: 0.1,
        patience: 1,
        factor: 0.3,
        minLr: [0.02, 0.1],
        eps: 1e-3,
      }),
    torch:
      "S.ReduceLROnPlateau(opt, mode='max', threshold_mode='abs', threshold=0.1, patience=1, " +
      "factor=0.3, min_lr=[0.02, 0.1], eps=1e-3)",
    metrics: rising,
  },
  {
    name: "ReduceLROnPlateau max/rel",
    opt: "sgd",
    ours: (o) => new optim.ReduceLROnPlateau(o, { mode: "max", patience: 0, threshold: 0.01 }),
    torch: "S.ReduceLROnPlateau(opt, mode='max', patience=0, threshold=0.01)",
    metrics: rising,
  },
  {
    name: "SequentialLR warmup then cosine",
    opt: "sgd",
    ours: (o) =>
      new optim.SequentialLR(o, {
        schedulers: [
          new optim.LinearLR(o, { startFactor: 0.1, totalIters: 5 }),
          new optim.CosineAnnealingLR(o, { tMax: 10 }),
        ],
        milestones: [5],
      }),
    torch: "S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5), " +
      "S.CosineAnnealingLR(opt, T_max=10)], milestones=[5])",
  },
  {
    name: "SequentialLR of three",
    opt: "adam",
    ours: (o) =>
      new optim.SequentialLR(o, {
        schedulers: [
          new optim.ExponentialLR(o, { gamma: 0.9 }),
          new optim.StepLR(o, { stepSize: 3, gamma: 0.5 }),
          new optim.MultiStepLR(o, { milestones: [3, 6], gamma: 0.2 }),
        ],
        milestones: [4, 10],
      }),
    torch: "S.SequentialLR(opt, [S.ExponentialLR(opt, gamma=0.9), S.StepLR(opt, step_size=3, " +
      "gamma=0.5), S.MultiStepLR(opt, milestones=[3, 6], gamma=0.2)], milestones=[4, 10])",
  },
];

const TORCH_SETUP = `
import torch, warnings
warnings.simplefilter("ignore")
S = torch.optim.lr_scheduler
def make_opt(kind, ps):
    groups = [{'params': [ps[0]]}, {'params': [ps[1]], 'lr': 0.5}]
    if kind == 'sgd':
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    return torch.optim.Adam(groups, lr=0.1)
def run_sched(kind, make, steps, metrics, momentum):
    ps = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    opt = make_opt(kind, ps)
    sched = make(opt)
    out = []
    for i in range(steps):
        rec = [float(x) for x in sched.get_last_lr()]
        if momentum:
            rec += [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]
        out.append(rec)
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
    return np.array(out, dtype=np.float64)
`;

function makeOpt(kind: Opt): [optim.Optimizer, Tensor[]] {
  const ps = [tensor([0]).requireGrad(), tensor([0]).requireGrad()];
  const groups = [{ params: [ps[0]] }, { params: [ps[1]], lr: 0.5 }];
  const opt = kind === "sgd"
    ? new optim.SGD(groups, { lr: 0.1, momentum: 0.9 })
    : new optim.Adam(groups, { lr: 0.1 });
  return [opt, ps];
}

function step(s: optim.Scheduler, metric?: number): void {
  if (s instanceof optim.ReduceLROnPlateau) s.step(metric!);
  else (s as optim.LRScheduler | optim.SequentialLR).step();
}

function record(c: Case, opt: optim.Optimizer, s: optim.Scheduler): number[] {
  const rec = s.getLastLr();
  if (c.momentum) {
    for (const g of opt.paramGroups) {
      rec.push(g.betas ? (g.betas as number[])[0] : g.momentum as number);
    }
  }
  return rec;
}

function runOurs(c: Case): Tensor {
  const [opt, ps] = makeOpt(c.opt);
  const s = c.ours(opt);
  const rows: number[][] = [];
  for (let i = 0; i < STEPS; i++) {
    rows.push(record(c, opt, s));
    opt.step();
    step(s, c.metrics?.[i]);
  }
  for (const p of ps) p.dispose();
  return tensor(rows, { dtype: "f64" });
}

Deno.test({
  name: "schedulers give torch's learning-rate sequences over 30 steps",
  ...needsTorch,
  async fn(t) {
    const refs = await numpy(cases.map((c) => ({
      setup: TORCH_SETUP,
      expr: `run_sched('${c.opt}', lambda opt: ${c.torch}, ${STEPS}, ` +
        `${c.metrics ? JSON.stringify(c.metrics) : "None"}, ${c.momentum ? "True" : "False"})`,
    })));
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, () => {
        const r = refs[i];
        assert.equal(r.error, undefined, r.error);
        const ours = runOurs(c);
        assertMatches(ours, r.results[0], { rtol: 1e-12, atol: 1e-15 }, c.name);
        ours.dispose();
      });
    }
  },
});

Deno.test("scheduler state dicts resume a schedule exactly", async (t) => {
  for (const c of cases) {
    await t.step(c.name, () => {
      const straight = runOurs(c).toArraySync() as number[][];
      // Run 13 steps, save optimizer + scheduler state, rebuild both, load, continue.
      let [opt, ps] = makeOpt(c.opt);
      let s = c.ours(opt);
      const rows: number[][] = [];
      for (let i = 0; i < STEPS; i++) {
        if (i === 13) {
          const osd = opt.stateDict();
          const ssd = JSON.parse(JSON.stringify(s.stateDict()));
          for (const p of ps) p.dispose();
          [opt, ps] = makeOpt(c.opt);
          s = c.ours(opt);
          opt.loadStateDict(osd);
          s.loadStateDict(ssd);
        }
        rows.push(record(c, opt, s));
        opt.step();
        step(s, c.metrics?.[i]);
      }
      for (const p of ps) p.dispose();
      assert.deepEqual(rows, straight);
    });
  }
});

Deno.test("scheduler bad input gives typed errors", () => {
  const [opt, ps] = makeOpt("sgd");
  const bad: [() => unknown, RegExp][] = [
    [() => new optim.OneCycleLR(opt, { maxLr: 1 }), /totalSteps/],
    [() => new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 0 }), /positive integer/],
    [() => new optim.OneCycleLR(opt, { maxLr: [1, 2, 3], totalSteps: 5 }), /3 values/],
    [() => new optim.LinearLR(opt, { startFactor: 0 }), /startFactor/],
    [() => new optim.ReduceLROnPlateau(opt, { factor: 1 }), /factor/],
    [() => new optim.ReduceLROnPlateau(opt, { mode: "up" as "min" }), /mode/],
    [() => new optim.SequentialLR(opt, { schedulers: [], milestones: [] }), /at least one/],
    [
      () =>
        new optim.SequentialLR(opt, {
          schedulers: [new optim.StepLR(opt, { stepSize: 1 })],
          milestones: [3],
        }),
      /one milestone fewer/,
    ],
    [() => new optim.StepLR(makeOpt("sgd")[0], { stepSize: 1, lastEpoch: 3 }), /initialLr/],
  ];
  for (const [f, re] of bad) {
    assert.throws(f, (e: Error) => e instanceof optim.OptimizerError && re.test(e.message));
  }
  const s = new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 2 });
  s.step();
  s.step();
  assert.throws(() => s.step(), /tried to step 3 times/);
  for (const p of ps) p.dispose();
});
