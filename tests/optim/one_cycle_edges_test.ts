/**
 * OneCycleLR on tiny schedules against torch.optim.lr_scheduler.OneCycleLR: every
 * (totalSteps, pctStart, threePhase, annealStrategy) of a grid gives PyTorch's sequence, and the
 * schedules where PyTorch divides 0 by 0 (ZeroDivisionError) are refused with an OptimizerError
 * at construction instead of leaving a NaN learning rate.
 */
import assert from "node:assert/strict";
import { optim, tensor } from "../../mod.ts";
import { needsTorch, PYTHON } from "../helpers/numpy.ts";

const SCRIPT = `
import torch, json, warnings
warnings.filterwarnings("ignore")
out = []
for total in [1, 2, 3, 4, 5, 10]:
  for pct in [0.0, 0.1, 0.2, 0.25, 0.5, 1.0]:
    for three in [False, True]:
      for strat in ["cos", "linear"]:
        p = torch.nn.Parameter(torch.ones(1))
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        try:
          s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total,
            pct_start=pct, three_phase=three, anneal_strategy=strat)
          l = [[s.get_last_lr()[0], opt.param_groups[0]["momentum"]]]
          for i in range(1, total):
            opt.step(); s.step(); l.append([s.get_last_lr()[0], opt.param_groups[0]["momentum"]])
        except ZeroDivisionError:
          l = None
        out.append(dict(total=total, pct=pct, three=three, strat=strat, lrs=l))
print(json.dumps(out))
`;

interface Ref {
  total: number;
  pct: number;
  three: boolean;
  strat: "cos" | "linear";
  lrs: number[][] | null;
}

Deno.test({
  name: "OneCycleLR: tiny schedules equal PyTorch's; 0/0 warm-ups are an OptimizerError",
  ...needsTorch,
  fn: async () => {
    const o = await new Deno.Command(PYTHON!, { args: ["-c", SCRIPT], stderr: "inherit" })
      .output();
    assert.equal(o.code, 0);
    const refs = JSON.parse(new TextDecoder().decode(o.stdout)) as Ref[];
    let refused = 0;
    for (const c of refs) {
      const p = tensor([1]).requireGrad();
      const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
      const make = () =>
        new optim.OneCycleLR(opt, {
          maxLr: 1,
          totalSteps: c.total,
          pctStart: c.pct,
          threePhase: c.three,
          annealStrategy: c.strat,
        });
      const what = JSON.stringify({ ...c, lrs: undefined });
      if (c.lrs === null) {
        assert.throws(
          make,
          (e) => e instanceof optim.OptimizerError && /zero width/.test(String(e)),
        );
        refused++;
      } else {
        const s = make();
        const ours = [[s.getLastLr()[0], opt.paramGroups[0].momentum as number]];
        for (let i = 1; i < c.total; i++) {
          s.step();
          ours.push([s.getLastLr()[0], opt.paramGroups[0].momentum as number]);
        }
        for (const [i, [lr, m]] of ours.entries()) {
          assert.ok(Number.isFinite(lr) && Number.isFinite(m), `${what} step ${i}: ${lr} ${m}`);
          assert.ok(
            Math.abs(lr - c.lrs[i][0]) <= 1e-12,
            `${what} step ${i}: lr ${lr} vs ${c.lrs[i][0]}`,
          );
          assert.ok(Math.abs(m - c.lrs[i][1]) <= 1e-12, `${what} step ${i}: momentum ${m}`);
        }
      }
      p.dispose();
    }
    assert.ok(refused > 0, "the grid holds schedules PyTorch cannot run");
  },
});

Deno.test("OneCycleLR: non-finite or non-positive factors and maxLr are an OptimizerError", () => {
  const p = tensor([1]).requireGrad();
  const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
  for (
    const bad of [
      { divFactor: 0 },
      { divFactor: NaN },
      { finalDivFactor: -1 },
      { maxLr: NaN },
      { maxLr: Infinity },
    ]
  ) {
    assert.throws(
      () => new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, ...bad }),
      optim.OptimizerError,
      JSON.stringify(bad),
    );
  }
  p.dispose();
});
