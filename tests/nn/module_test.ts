/**
 * `Module`: discovery of parameters, buffers and submodules, PyTorch's naming, modes, state
 * dicts (and their errors), devices and dtypes, memory, and a safetensors round trip with
 * PyTorch.
 */
import assert from "node:assert/strict";
import {
  copyInto,
  type DType,
  loadSafetensors,
  memory,
  nn,
  noGrad,
  ones,
  randn,
  saveSafetensors,
  seed,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../mod.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";

class Block extends nn.Module {
  conv: nn.Conv2d;
  bn: nn.BatchNorm2d;
  constructor(c: number) {
    super();
    this.conv = new nn.Conv2d(c, c, 3, { padding: 1, bias: false });
    this.bn = new nn.BatchNorm2d(c);
  }
  forward(x: Tensor): Tensor {
    const h = this.conv.call(x);
    const y = this.bn.call(h);
    h.dispose();
    return y;
  }
}

class Net extends nn.Module {
  stem = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU());
  blocks = new nn.ModuleList([new Block(4), new Block(4)]);
  pool = new nn.AdaptiveAvgPool2d(1);
  head = new nn.Linear(4, 3);
  emb = new nn.Embedding(5, 3);
  norm = new nn.LayerNorm(3);
  forward(x: Tensor): Tensor {
    let h = this.stem.call(x);
    for (const b of this.blocks) {
      const n = b.call(h);
      h.dispose();
      h = n;
    }
    const p = this.pool.call(h);
    const f = p.flatten(1);
    const o = this.head.call(f);
    const y = this.norm.call(o);
    for (const t of [h, p, f, o]) t.dispose();
    return y;
  }
}

const TORCH_NET = `
import torch
from torch import nn
class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
    def forward(self, x):
        return self.bn(self.conv(x))
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 3)
        self.emb = nn.Embedding(5, 3)
        self.norm = nn.LayerNorm(3)
    def forward(self, x):
        h = self.stem(x)
        for b in self.blocks:
            h = b(h)
        return self.norm(self.head(self.pool(h).flatten(1)))
def same(what, a, b):
    if list(a) != list(b):
        raise ValueError(f"{what} differ: torch {list(a)} vs ours {list(b)}")
`;

Deno.test({
  name: "names of parameters, buffers and state-dict keys equal PyTorch's for a nested model",
  ...needsTorch,
  async fn() {
    const net = new Net();
    const sd = net.stateDict();
    const keys = Object.keys(sd);
    const shapes = keys.map((k) => [...sd[k].shape]);
    for (const t of Object.values(sd)) t.dispose();
    const [r] = await numpy([{
      setup: TORCH_NET,
      expr: "(same('state_dict keys', Net().state_dict().keys(), keys), " +
        "same('named_parameters', [n for n, _ in Net().named_parameters()], pnames), " +
        "same('named_buffers', [n for n, _ in Net().named_buffers()], bnames), " +
        "same('shapes', [list(v.shape) for v in Net().state_dict().values()], shapes), " +
        "same('named_modules', [n for n, _ in Net().named_modules()], mnames), np.array(1))[-1]",
      scalars: {
        keys,
        shapes,
        pnames: net.namedParameters().map(([n]) => n),
        bnames: net.namedBuffers().map(([n]) => n),
        mnames: net.namedModules().map(([n]) => n),
      },
    }]);
    assert.equal(r.error, undefined, r.error);
    assert.ok(keys.includes("blocks.1.bn.num_batches_tracked"));
    net.dispose();
  },
});

Deno.test("module discovery, registration and traversal", async (t) => {
  await t.step("parameters come from own properties in assignment order; null is skipped", () => {
    const fc = new nn.Linear(3, 2, { bias: false });
    assert.deepEqual(fc.namedParameters().map(([n]) => n), ["weight"]);
    assert.equal(fc.parameters()[0], fc.weight);
    assert.ok(fc.weight.requiresGrad && fc.weight.isLeaf);
    assert.equal(fc.countParameters(), 6);
    fc.dispose();
  });

  await t.step("register* adds parameters, (non-persistent) buffers and modules", () => {
    class M extends nn.Module {
      #scratch = zeros([2]); // private fields are not state
      constructor() {
        super();
        this.registerParameter("alpha", ones([2]));
        this.registerBuffer("steps", zeros([], { dtype: "i64" }));
        this.registerBuffer("cache", zeros([3]), { persistent: false });
        this.registerModule("inner", new nn.Linear(2, 2));
      }
      forward(x: Tensor): Tensor {
        return x.add(this.#scratch);
      }
    }
    const m = new M();
    const r = m as unknown as Record<string, Tensor>;
    assert.ok(r.alpha.requiresGrad);
    assert.deepEqual(m.namedParameters().map(([n]) => n), ["alpha", "inner.weight", "inner.bias"]);
    assert.deepEqual(m.namedBuffers().map(([n]) => n), ["steps", "cache"]);
    const sd = m.stateDict();
    assert.deepEqual(Object.keys(sd), ["alpha", "steps", "inner.weight", "inner.bias"]);
    for (const v of Object.values(sd)) v.dispose();
    assert.deepEqual(m.namedChildren().map(([n]) => n), ["inner"]);
    m.registerParameter("alpha", null);
    assert.deepEqual(m.namedParameters(false).map(([n]) => n), []);
    assert.throws(() => m.registerParameter("a.b", ones([1])), /without "\."/);
    m.dispose();
  });

  await t.step("a tensor shared by two modules (tied weights) is listed once", () => {
    const a = new nn.Linear(4, 4), b = new nn.Linear(4, 4);
    b.weight.dispose();
    b.weight = a.weight;
    const s = new nn.Sequential(a, b);
    assert.deepEqual(s.namedParameters().map(([n]) => n), ["0.weight", "0.bias", "1.bias"]);
    s.dispose();
  });

  await t.step("children, modules, namedModules and apply (children before parents)", () => {
    const net = new Net();
    assert.deepEqual(net.namedChildren().map(([n]) => n), [
      "stem",
      "blocks",
      "pool",
      "head",
      "emb",
      "norm",
    ]);
    assert.equal(net.modules().length, net.namedModules().length);
    assert.equal(net.namedModules()[0][0], "");
    const order: string[] = [];
    new nn.Sequential(new nn.ReLU(), new nn.Sequential(new nn.Tanh())).apply((m) =>
      order.push(m.constructor.name)
    );
    assert.deepEqual(order, ["ReLU", "Tanh", "Sequential", "Sequential"]);
    // apply to initialize weights
    net.apply((m) => {
      if (m instanceof nn.Linear) nn.init.zeros(m.weight);
    });
    assert.equal(net.head.weight.abs().sum().item(), 0);
    net.dispose();
  });

  await t.step("train()/eval() set the mode recursively", () => {
    const net = new Net();
    assert.ok(net.modules().every((m) => m.training));
    net.eval();
    assert.ok(net.modules().every((m) => !m.training));
    net.train();
    assert.ok(net.blocks.at(1).bn.training);
    net.dispose();
  });

  await t.step("zeroGrad frees gradients; requireGrad(false) freezes", () => {
    const fc = new nn.Linear(3, 2);
    fc.call(ones([1, 3])).sum().backward();
    assert.ok(fc.weight.grad && fc.bias!.grad);
    fc.zeroGrad();
    assert.equal(fc.weight.grad, null);
    fc.requireGrad(false);
    assert.equal(fc.call(ones([1, 3])).requiresGrad, false);
    fc.dispose();
  });

  await t.step("Sequential and ModuleList behave like lists", () => {
    const s = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
    s.append(new nn.Linear(3, 1));
    assert.equal(s.length, 3);
    assert.ok(s.at(-1) instanceof nn.Linear);
    assert.deepEqual([...s].map((m) => m.constructor.name), ["Linear", "ReLU", "Linear"]);
    assert.deepEqual(s.call(ones([4, 2])).shape, [4, 1]);
    assert.throws(() => s.at(3), /out of range/);
    const l = new nn.ModuleList<nn.Linear>().extend([new nn.Linear(1, 1), new nn.Linear(1, 2)]);
    assert.equal(l.at(1).outFeatures, 2);
    assert.throws(() => l.forward(), TypeError);
    assert.match(String(s), /^Sequential\(\n {2}\(0\): Linear\(inFeatures=2, outFeatures=3/);
    s.dispose();
    l.dispose();
  });
});

Deno.test("state dicts: detached views, loading, and errors listing every bad key", async (t) => {
  await t.step("stateDict gives detached views of the live values", () => {
    const fc = new nn.Linear(2, 2);
    const sd = fc.stateDict();
    assert.equal(sd.weight.requiresGrad, false);
    assert.deepEqual(sd.weight.toArraySync(), fc.weight.toArraySync());
    noGrad(() => nn.init.constant(fc.weight, 3));
    assert.deepEqual(sd.weight.toArraySync(), [[3, 3], [3, 3]]); // shares storage
    for (const v of Object.values(sd)) v.dispose();
    fc.dispose();
  });

  await t.step("loadStateDict copies values (Map or object; dtype cast) into the module", () => {
    const a = new nn.BatchNorm1d(3), b = new nn.BatchNorm1d(3);
    a.call(randn([4, 3]));
    const sd = a.stateDict();
    const res = b.loadStateDict(new Map(Object.entries(sd)));
    assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
    assert.deepEqual(b.runningMean!.toArraySync(), a.runningMean!.toArraySync());
    assert.equal(b.numBatchesTracked!.item(), 1);
    b.loadStateDict({ ...sd, weight: tensor([1, 2, 3], { dtype: "f64" }) });
    assert.deepEqual(b.weight!.toArraySync(), [1, 2, 3]);
    assert.equal(b.weight!.dtype, "f32");
    assert.ok(b.weight!.requiresGrad && b.weight!.isLeaf);
    for (const v of Object.values(sd)) v.dispose();
    a.dispose();
    b.dispose();
  });

  await t.step("missing, unexpected and mis-shaped keys are all listed; nothing is loaded", () => {
    const net = new nn.Sequential(new nn.Linear(4, 3), new nn.LayerNorm(3));
    const before = net.at<nn.Linear>(0).bias!.toArraySync();
    const bad = {
      "0.weight": zeros([3, 5]),
      "0.bias": zeros([3]),
      "1.weight": zeros([4]),
      "2.weight": zeros([3]),
      "extra": zeros([1]),
    };
    assert.throws(
      () => net.loadStateDict(bad),
      (e: Error) => {
        assert.ok(e instanceof nn.StateDictError);
        assert.deepEqual(e.missingKeys, ["1.bias"]);
        assert.deepEqual(e.unexpectedKeys, ["2.weight", "extra"]);
        assert.deepEqual(e.mismatched.map((m) => m.key), ["0.weight", "1.weight"]);
        assert.match(e.message, /missing keys \(1\): 1\.bias/);
        assert.match(e.message, /unexpected keys \(2\): 2\.weight, extra/);
        assert.match(
          e.message,
          /size mismatch for 0\.weight: the state dict has shape \(3, 5\), the module has \(3, 4\)/,
        );
        assert.match(e.message, /size mismatch for 1\.weight/);
        return true;
      },
    );
    assert.deepEqual(net.at<nn.Linear>(0).bias!.toArraySync(), before);
    // not strict: mis-shaped keys still throw (like PyTorch)
    assert.throws(() => net.loadStateDict(bad, { strict: false }), nn.StateDictError);
    const ok = { "0.bias": ones([3]), "1.weight": ones([3]).mul(2), "junk": zeros([1]) };
    const r = net.loadStateDict(ok, { strict: false });
    assert.deepEqual(r.missingKeys, ["0.weight", "1.bias"]);
    assert.deepEqual(r.unexpectedKeys, ["junk"]);
    assert.deepEqual(net.at<nn.Linear>(0).bias!.toArraySync(), [1, 1, 1]);
    assert.deepEqual(net.at<nn.LayerNorm>(1).weight!.toArraySync(), [2, 2, 2]);
    for (const v of [...Object.values(bad), ...Object.values(ok)]) v.dispose();
    net.dispose();
  });
});

Deno.test("devices, dtypes and memory", async (t) => {
  await t.step("to(device) resolves to the module; astype converts floats only", async () => {
    const bn = new nn.BatchNorm1d(2);
    assert.equal(await bn.to("cpu"), bn);
    assert.equal(bn.weight!.device, "cpu");
    bn.astype("f64");
    const dt = (x: Tensor | null): DType => x!.dtype;
    assert.equal(dt(bn.weight), "f64");
    assert.equal(dt(bn.runningVar), "f64");
    assert.equal(dt(bn.numBatchesTracked), "i64");
    assert.ok(bn.weight!.requiresGrad);
    assert.equal(bn.call(randn([3, 2], { dtype: "f64" })).dtype, "f64");
    bn.dispose();
  });

  await t.step("dispose() frees every parameter and buffer", () => {
    const before = memory().tensors;
    const net = new Net();
    assert.ok(memory().tensors > before);
    net.dispose();
    assert.equal(memory().tensors, before);
  });

  await t.step("a module built inside tidy() keeps its parameters", () => {
    const fc = tidy(() => new nn.Linear(2, 2));
    assert.equal(fc.weight.disposed, false);
    fc.dispose();
  });

  await t.step("a training loop of 200 steps holds steady memory", () => {
    seed(1);
    const net = new nn.Sequential(
      new nn.Conv2d(1, 2, 3, { padding: 1 }),
      new nn.BatchNorm2d(2),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Flatten(),
      new nn.Dropout(0.2),
      new nn.Linear(8, 3),
    );
    const x = randn([4, 1, 4, 4]);
    const step = () => {
      tidy(() => net.call(x).square().mean().backward());
      noGrad(() => {
        for (const p of net.parameters()) tidy(() => copyInto(p, p.sub(p.grad!.mul(0.01))));
      });
      net.zeroGrad();
    };
    step();
    const before = memory();
    for (let i = 0; i < 200; i++) step();
    const after = memory();
    assert.equal(after.tensors, before.tensors);
    net.dispose();
    x.dispose();
  });
});

Deno.test({
  name: "a model round-trips through safetensors with PyTorch in both directions",
  ...needsTorch,
  async fn() {
    seed(11);
    const dir = await Deno.makeTempDir();
    try {
      const net = new Net();
      // non-trivial running statistics
      net.call(randn([4, 1, 5, 5])).dispose();
      net.eval();
      const x = randn([2, 1, 5, 5]);
      const ours = net.call(x);
      const sd = net.stateDict();
      await saveSafetensors(`${dir}/ours.safetensors`, sd);
      for (const v of Object.values(sd)) v.dispose();
      const [r] = await numpy([{
        setup: TORCH_NET + `
from safetensors.torch import load_file, save_file
torch.manual_seed(3)
m = Net()
m.load_state_dict(load_file(path + "/ours.safetensors"), strict=True)
m.eval()
with torch.no_grad():
    y_ours_weights = m(torch.from_numpy(x)).numpy()
t = Net()
with torch.no_grad():
    t(torch.randn(4, 1, 5, 5))  # running statistics
t.eval()
save_file(t.state_dict(), path + "/torch.safetensors")
with torch.no_grad():
    y_torch = t(torch.from_numpy(x)).numpy()
`,
        expr: "[y_ours_weights, y_torch]",
        arrays: { x },
        scalars: { path: dir },
      }]);
      assert.equal(r.error, undefined, r.error);
      assertMatches(ours, r.results[0], {}, "torch with our weights");
      const loaded = await loadSafetensors(`${dir}/torch.safetensors`);
      const back = new Net();
      back.loadStateDict(loaded.tensors);
      back.eval();
      assertMatches(back.call(x), r.results[1], {}, "ours with torch's weights");
      assert.equal(Number(back.blocks.at(0).bn.numBatchesTracked!.item()), 1);
      for (const v of Object.values(loaded.tensors)) v.dispose();
      net.dispose();
      back.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
