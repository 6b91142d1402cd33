/**
 * Checkpoints: model + optimizer + scheduler + epoch + extras in one safetensors file; resuming
 * reproduces the uninterrupted run exactly; strict key checks; PyTorch state dicts load by name
 * and ours load into PyTorch (the reference venv's torch + safetensors).
 */
import assert from "node:assert/strict";
import {
  CheckpointError,
  loadCheckpoint,
  loadSafetensors,
  memory,
  optim,
  saveCheckpoint,
  saveSafetensors,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../mod.ts";
import { Module } from "../../nn/module.ts";
import { needsTorch, PYTHON } from "../helpers/numpy.ts";
import { makeTensor } from "../helpers/gen.ts";

/** Mirrors torch.nn.Linear's parameter names. */
class Lin extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(inF: number, outF: number, seed: number) {
    super();
    this.weight = tidy(() => makeTensor([outF, inF], "f32", seed).mul(0.5)).requireGrad();
    this.bias = tidy(() => makeTensor([outF], "f32", seed + 1).mul(0.1)).requireGrad();
  }
  forward(x: Tensor): Tensor {
    return x.matmul(this.weight.T).add(this.bias);
  }
}

/** Mirrors torch.nn.BatchNorm1d's names (an affine layer here; its statistics are buffers). */
class Norm extends Module {
  weight: Tensor;
  bias: Tensor;
  declare running_mean: Tensor;
  declare running_var: Tensor;
  declare num_batches_tracked: Tensor;
  constructor(n: number, seed: number) {
    super();
    this.weight = makeTensor([n], "f32", seed).requireGrad();
    this.bias = makeTensor([n], "f32", seed + 1).requireGrad();
    this.registerBuffer("running_mean", makeTensor([n], "f32", seed + 2));
    this.registerBuffer("running_var", tidy(() => makeTensor([n], "f32", seed + 3).abs()));
    this.registerBuffer("num_batches_tracked", tensor(seed, { dtype: "i64" }));
  }
  forward(x: Tensor): Tensor {
    return x.mul(this.weight).add(this.bias);
  }
}

class Net extends Module {
  fc1: Lin;
  bn: Norm;
  fc2: Lin;
  constructor(seed = 1, hidden = 3) {
    super();
    this.fc1 = new Lin(4, hidden, seed);
    this.bn = new Norm(hidden, seed + 10);
    this.fc2 = new Lin(hidden, 2, seed + 20);
  }
  forward(x: Tensor): Tensor {
    return this.fc2.call(this.bn.call(this.fc1.call(x)));
  }
}

const X = makeTensor([8, 4], "f32", 100);
const Y = makeTensor([8, 2], "f32", 101);

function setup(seed: number) {
  const net = new Net(seed);
  const opt = new optim.Adam(
    [{ params: [...net.fc1.parameters(), ...net.bn.parameters()] }, {
      params: net.fc2.parameters(),
      lr: 0.05,
      amsgrad: true,
    }],
    { lr: 0.01 },
  );
  const sched = new optim.SequentialLR(opt, {
    schedulers: [
      new optim.LinearLR(opt, { startFactor: 0.5, totalIters: 3 }),
      new optim.CosineAnnealingLR(opt, { tMax: 5 }),
    ],
    milestones: [3],
  });
  return { net, opt, sched };
}

function train(s: ReturnType<typeof setup>, steps: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    s.opt.zeroGrad();
    tidy(() => s.net.call(X).sub(Y).square().mean().backward());
    s.opt.step();
    s.sched.step();
    out.push(s.net.parameters().flatMap((p) => Array.from(p.dataSync() as Float32Array)));
  }
  return out;
}

function teardown(s: ReturnType<typeof setup>): void {
  s.opt.zeroGrad();
  s.opt.disposeState();
  s.net.dispose();
}

Deno.test("a checkpoint resumes training exactly where it stopped", async (t) => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await t.step("save after 4 steps, restore into fresh objects, continue", async () => {
    const a = setup(1);
    train(a, 4);
    await saveCheckpoint(path, {
      model: a.net,
      optimizer: a.opt,
      scheduler: a.sched,
      epoch: 4,
      extra: { best: 0.5, history: [1, 2], inf: Infinity },
    });
    const straight = train(a, 5);
    teardown(a);

    const b = setup(7); // different initial weights
    const before = memory().tensors;
    const info = await loadCheckpoint(path, { model: b.net, optimizer: b.opt, scheduler: b.sched });
    // Only the optimizer state is new (6 params × expAvg, expAvgSq, + 2 × maxExpAvgSq).
    assert.equal(memory().tensors - before, 6 * 2 + 2);
    assert.equal(info.epoch, 4);
    assert.deepEqual(info.extra, { best: 0.5, history: [1, 2], inf: Infinity });
    assert.equal(info.metadata.format, "aprender.checkpoint");
    const resumed = train(b, 5);
    assert.deepEqual(resumed, straight);
    assert.deepEqual(b.net.bn.num_batches_tracked.toArraySync(), 11);
    teardown(b);
  });
  await t.step("the file holds model.* and optim.* tensors and JSON metadata", async () => {
    const { tensors, metadata } = await loadSafetensors(path);
    const keys = Object.keys(tensors).sort();
    assert.ok(keys.includes("model.fc1.weight"));
    assert.ok(keys.includes("model.bn.num_batches_tracked"));
    assert.ok(keys.includes("optim.0.expAvg"));
    assert.ok(keys.includes("optim.5.maxExpAvgSq"));
    assert.equal(tensors["model.bn.num_batches_tracked"].dtype, "i64");
    const o = JSON.parse(metadata.optim);
    assert.equal(o.class, "Adam");
    assert.deepEqual(o.paramGroups.map((g: { params: number[] }) => g.params), [[0, 1, 2, 3], [
      4,
      5,
    ]]);
    assert.equal(o.state["0"].step, 4);
    assert.equal(JSON.parse(metadata.scheduler).class, "SequentialLR");
    for (const x of Object.values(tensors)) x.dispose();
  });
  await t.step("loading weights only ignores the optimizer state", async () => {
    const net = new Net(3);
    const info = await loadCheckpoint(path, { model: net });
    assert.equal(info.epoch, 4);
    net.dispose();
  });
  await Deno.remove(path);
});

Deno.test("loadCheckpoint checks every key and lists the bad ones", async (t) => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  const a = setup(1);
  train(a, 1);
  await saveCheckpoint(path, { model: a.net, optimizer: a.opt, epoch: 1 });
  const fails = async (
    targets: Parameters<typeof loadCheckpoint>[1],
    check: (e: CheckpointError) => void,
  ) => {
    const before = memory().tensors;
    await assert.rejects(() => loadCheckpoint(path, targets), (e: Error) => {
      assert.ok(e instanceof CheckpointError, String(e));
      check(e);
      return true;
    });
    assert.equal(memory().tensors, before, "nothing leaks, nothing loads");
  };
  await t.step("a wider model: mis-shaped keys", async () => {
    const wide = new Net(1, 5);
    await fails({ model: wide }, (e) => {
      assert.deepEqual(e.mismatched.map((m) => m.key).sort(), [
        "model.bn.bias",
        "model.bn.running_mean",
        "model.bn.running_var",
        "model.bn.weight",
        "model.fc1.bias",
        "model.fc1.weight",
        "model.fc2.weight",
      ]);
      assert.match(
        e.message,
        /size mismatch for model\.fc1\.weight: the file has shape \(3, 4\), expected \(5, 4\)/,
      );
    });
    wide.dispose();
  });
  await t.step("a model with an extra and a missing parameter", async () => {
    const net = new Net(2);
    net.registerParameter("scale", zeros([1]));
    net.fc2.bias.dispose();
    (net.fc2 as unknown as Record<string, unknown>).bias = null;
    await fails({ model: net }, (e) => {
      assert.deepEqual(e.missingKeys, ["model.scale"]);
      assert.deepEqual(e.unexpectedKeys, ["model.fc2.bias"]);
      assert.match(e.message, /missing keys \(1\): model\.scale/);
      assert.match(e.message, /unexpected keys \(1\): model\.fc2\.bias/);
    });
    net.dispose();
  });
  await t.step("an optimizer of another class, or other groups", async () => {
    const b = setup(2);
    const sgd = new optim.SGD(b.net.parameters());
    await fails(
      { model: b.net, optimizer: sgd },
      (e) => assert.match(e.message, /Adam's, the optimizer is SGD/),
    );
    const oneGroup = new optim.Adam(b.net.parameters());
    await fails(
      { model: b.net, optimizer: oneGroup },
      (e) => assert.match(e.message, /2 parameter groups/),
    );
    await fails(
      { model: b.net, optimizer: b.opt, scheduler: b.sched },
      (e) => assert.match(e.message, /no scheduler state/),
    );
    teardown(b);
  });
  await t.step("a plain state dict has no optimizer state", async () => {
    const plain = await Deno.makeTempFile({ suffix: ".safetensors" });
    const sd = a.net.stateDict();
    await saveSafetensors(plain, sd);
    for (const v of Object.values(sd)) v.dispose();
    const b = setup(2);
    await assert.rejects(
      () => loadCheckpoint(plain, { model: b.net, optimizer: b.opt }),
      (e: Error) => e instanceof CheckpointError && /no optimizer state/.test(e.message),
    );
    await loadCheckpoint(plain, { model: b.net });
    assert.deepEqual(b.net.fc1.weight.toArraySync(), a.net.fc1.weight.toArraySync());
    teardown(b);
    await Deno.remove(plain);
  });
  teardown(a);
  await Deno.remove(path);
});

/** Run Python (the reference venv) with argv; return stdout. */
async function py(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON!, {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`python failed:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const TORCH_NET = `
import sys, json, torch
from safetensors.torch import save_file, load_file
from safetensors import safe_open
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.bn = torch.nn.BatchNorm1d(3)
        self.fc2 = torch.nn.Linear(3, 2)
def dump(sd):
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": v.flatten().tolist()} for k, v in sd.items()}
`;

Deno.test({
  name: "PyTorch state dicts load into the matching module by name, and ours into PyTorch",
  ...needsTorch,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    await t.step("torch save_file(state_dict) → loadCheckpoint / loadStateDict", async () => {
      const path = `${dir}/torch.safetensors`;
      const ref = JSON.parse(
        await py(
          TORCH_NET + `
torch.manual_seed(0)
net = Net()
net.train()
for _ in range(3):
    net.fc2(net.bn(net.fc1(torch.randn(8, 4))))
save_file(net.state_dict(), sys.argv[1])
print(json.dumps(dump(net.state_dict())))
`,
          path,
        ),
      );
      const net = new Net(9);
      await loadCheckpoint(path, { model: net });
      const sd = net.stateDict();
      assert.deepEqual(Object.keys(sd), Object.keys(ref));
      for (
        const [k, r] of Object.entries(ref) as [string, { shape: number[]; values: number[] }][]
      ) {
        assert.deepEqual(sd[k].shape, r.shape, k);
        const got = Array.from(sd[k].dataSync() as Float32Array, Number);
        assert.deepEqual(got, r.values.map((v) => (sd[k].dtype === "f32" ? Math.fround(v) : v)), k);
      }
      assert.equal(net.bn.num_batches_tracked.item(), 3);
      // The same file through loadSafetensors + loadStateDict.
      const { tensors } = await loadSafetensors(path);
      const other = new Net(11);
      other.loadStateDict(tensors);
      assert.deepEqual(other.fc2.weight.toArraySync(), net.fc2.weight.toArraySync());
      for (const v of [...Object.values(tensors), ...Object.values(sd)]) v.dispose();
      net.dispose();
      other.dispose();
    });
    await t.step(
      "saveSafetensors(stateDict) → torch load_file + load_state_dict(strict)",
      async () => {
        const path = `${dir}/ours.safetensors`;
        const net = new Net(5);
        const sd = net.stateDict();
        await saveSafetensors(path, sd);
        const ref = JSON.parse(
          await py(
            TORCH_NET + `
net = Net()
net.load_state_dict(load_file(sys.argv[1]), strict=True)
print(json.dumps(dump(net.state_dict())))
`,
            path,
          ),
        );
        for (
          const [k, r] of Object.entries(ref) as [string, { dtype: string; values: number[] }][]
        ) {
          assert.equal(r.dtype, sd[k].dtype === "i64" ? "torch.int64" : "torch.float32", k);
          assert.deepEqual(r.values, Array.from(sd[k].dataSync() as Float32Array, Number), k);
        }
        for (const v of Object.values(sd)) v.dispose();
        net.dispose();
      },
    );
    await t.step(
      "a checkpoint is a safetensors file PyTorch reads (prefixed keys + metadata)",
      async () => {
        const path = `${dir}/ckpt.safetensors`;
        const s = setup(1);
        train(s, 2);
        await saveCheckpoint(path, {
          model: s.net,
          optimizer: s.opt,
          scheduler: s.sched,
          epoch: 2,
        });
        const out = JSON.parse(
          await py(
            TORCH_NET + `
with safe_open(sys.argv[1], "pt") as f:
    meta = f.metadata()
    keys = sorted(f.keys())
net = Net()
d = load_file(sys.argv[1])
net.load_state_dict({k[6:]: v for k, v in d.items() if k.startswith("model.")})
print(json.dumps({"meta": meta, "keys": keys, "w": net.fc1.weight.flatten().tolist()}))
`,
            path,
          ),
        );
        assert.equal(out.meta.epoch, "2");
        assert.equal(JSON.parse(out.meta.optim).class, "Adam");
        assert.ok(out.keys.includes("model.fc1.weight") && out.keys.includes("optim.0.expAvgSq"));
        assert.deepEqual(out.w, Array.from(s.net.fc1.weight.dataSync() as Float32Array, Number));
        teardown(s);
      },
    );
    await Deno.remove(dir, { recursive: true });
  },
});
