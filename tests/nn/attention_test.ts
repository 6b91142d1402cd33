/**
 * MultiheadAttention, scaledDotProductAttention and TransformerEncoderLayer against PyTorch with
 * the same weights (ours, loaded into torch by name): outputs, attention weights, and gradients
 * with respect to the inputs and every parameter; masks, batchFirst both ways, kdim/vdim,
 * unbatched inputs. Eval mode (dropout off), as PyTorch's modules are compared deterministically.
 */
import assert from "node:assert/strict";
import { DTypeError, memory, nn, ShapeError, type Tensor, tensor } from "../../mod.ts";
import { assertMatches, needsTorch, numpy, type RefCase } from "../helpers/numpy.ts";
import { makeTensor, rng } from "../helpers/gen.ts";

type F = "f32" | "f64";

/**
 * f32: rtol 1e-4, atol 1e-5 (softmax and several matmuls in a row; PyTorch's SDPA path for
 * needWeights=false orders the arithmetic differently). f64: rtol 1e-9, atol 1e-12.
 */
const TOL = { f32: { rtol: 1e-4, atol: 1e-5 }, f64: { rtol: 1e-9, atol: 1e-12 } };

type AnyModule = nn.Module<never[], unknown>;

interface Case {
  name: string;
  dtype: F;
  /** Our module (random parameters loaded, eval mode). */
  module: AnyModule;
  /** Python constructing the torch module `m` (torch imported; E, H... inlined). */
  torchModule: string;
  /** Differentiable inputs x0, x1, ... */
  inputs: Tensor[];
  /** Constant tensors (masks) by name. */
  consts?: Record<string, Tensor>;
  /** Our forward: the output and the attention weights (or null). */
  ours: (m: AnyModule, x: Tensor[], c: Record<string, Tensor>) => [Tensor, Tensor | null];
  /** Python call of `m` giving `(out, weights)`; weights may be None. */
  torch: string;
}

function rand(shape: number[], dtype: F, seed: number, lo = -1, hi = 1): Tensor {
  return makeTensor(shape, dtype, seed, "contiguous", { lo, hi });
}

/** Load random parameters (biases non-zero) and switch to eval mode. */
function randomize<M extends AnyModule>(m: M, dtype: F, seed: number): M {
  if (dtype === "f64") m.astype("f64");
  const sd: Record<string, Tensor> = {};
  m.namedParameters().forEach(([name, p], i) => {
    sd[name] = rand([...p.shape], dtype, seed + i, -0.6, 0.6);
  });
  m.loadStateDict(sd);
  for (const t of Object.values(sd)) t.dispose();
  return m.eval();
}

/** Random booleans with probability `p` of true, never a full row on the last axis. */
function boolMask(shape: number[], seed: number, p = 0.3): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1), last = shape[shape.length - 1];
  const v = Array.from({ length: n }, (_, i) => (i % last === 0 ? false : r() < p));
  return tensor(v, { shape, dtype: "bool" });
}

function seedGrad(t: Tensor): Tensor {
  const v = Array.from({ length: t.size }, (_, i) => 0.25 * (1 + (i % 7)));
  return tensor(v, { dtype: t.dtype, shape: [...t.shape] });
}

function torchCase(c: Case): RefCase {
  const params = c.module.namedParameters();
  const names = params.map(([n]) => n);
  const consts = c.consts ?? {};
  const setup = [
    "import torch",
    "torch.manual_seed(0)",
    `m = ${c.torchModule}`,
    c.dtype === "f64" ? "m = m.double()" : "",
    `names = ${JSON.stringify(names)}`,
    `assert list(dict(m.named_parameters()).keys()) == names, list(dict(m.named_parameters()).keys())`,
    `assert list(m.state_dict().keys()) == names, list(m.state_dict().keys())`,
    `m.load_state_dict({n: torch.from_numpy(np.array(globals()[f"p{i}"])) for i, n in enumerate(names)})`,
    "m.eval()",
    ...c.inputs.map((_, i) => `x${i} = torch.tensor(x${i}, requires_grad=True)`),
    ...Object.keys(consts).map((k) => `${k} = torch.from_numpy(np.array(${k}))`),
    `out, w = ${c.torch}`,
    "gw = lambda t: (0.25 * (1 + torch.arange(t.numel()) % 7)).to(t.dtype).reshape(t.shape)",
    "loss = (out * gw(out)).sum() + ((w * gw(w)).sum() if w is not None else 0)",
    "loss.backward()",
    "P = dict(m.named_parameters())",
  ].join("\n");
  const grads = [
    ...c.inputs.map((_, i) => `x${i}.grad.numpy()`),
    ...names.map((n) => `P["${n}"].grad.numpy()`),
  ];
  return {
    setup,
    expr: `[out.detach().numpy(), (w.detach().numpy() if w is not None else np.zeros(0)), ${
      grads.join(", ")
    }]`,
    arrays: {
      ...Object.fromEntries(params.map(([, p], i) => [`p${i}`, p])),
      ...Object.fromEntries(c.inputs.map((x, i) => [`x${i}`, x])),
      ...consts,
    },
  };
}

async function check(cases: Case[]): Promise<void> {
  const refs = await numpy(cases.map(torchCase));
  cases.forEach((c, k) => {
    const r = refs[k];
    assert.equal(r.error, undefined, `${c.name}: torch raised ${r.error}`);
    const tol = TOL[c.dtype];
    const leaves = c.inputs.map((x) => x.detach().requireGrad());
    c.module.zeroGrad();
    const [out, w] = c.ours(c.module, leaves, c.consts ?? {});
    assertMatches(out, r.results[0], tol, `${c.name}: output`);
    if (r.results[1].shape.length === 1 && r.results[1].shape[0] === 0) {
      assert.equal(w, null, `${c.name}: weights should be null`);
    } else assertMatches(w!, r.results[1], tol, `${c.name}: attention weights`);
    const g1 = seedGrad(out);
    let loss = out.mul(g1).sum();
    if (w) {
      const g2 = seedGrad(w);
      const l2 = w.mul(g2).sum();
      const total = loss.add(l2);
      for (const t of [g2, l2, loss]) t.dispose();
      loss = total;
    }
    loss.backward();
    leaves.forEach((x, i) =>
      assertMatches(x.grad!, r.results[2 + i], tol, `${c.name}: grad of input ${i}`)
    );
    c.module.namedParameters().forEach(([n, p], i) =>
      assertMatches(p.grad!, r.results[2 + leaves.length + i], tol, `${c.name}: grad of ${n}`)
    );
    for (const t of [...leaves, out, g1, loss]) t.dispose();
    w?.dispose();
  });
}

const mhaCall = (
  opts: nn.MultiheadAttentionForwardOptions,
  self = false,
) =>
(m: AnyModule, x: Tensor[]): [Tensor, Tensor | null] =>
  (m as unknown as nn.MultiheadAttention).call(
    x[0],
    self ? x[0] : x[1],
    self ? x[0] : x[2],
    opts,
  );

Deno.test({
  name: "MultiheadAttention matches PyTorch: outputs, weights, input and parameter gradients",
  ...needsTorch,
  async fn() {
    const E = 8, H = 2, N = 3, L = 4, S = 5;
    let seed = 1;
    const cases: Case[] = [];
    const mha = (opts: nn.MultiheadAttentionOptions, dtype: F = "f32") =>
      randomize(new nn.MultiheadAttention(E, H, opts) as unknown as AnyModule, dtype, seed += 10);
    const qkv = (batchFirst: boolean, dtype: F = "f32", kdim = E, vdim = E) => {
      const sh = (len: number, d: number) => (batchFirst ? [N, len, d] : [len, N, d]);
      return [
        rand(sh(L, E), dtype, seed++),
        rand(sh(S, kdim), dtype, seed++),
        rand(sh(S, vdim), dtype, seed++),
      ];
    };
    for (const batchFirst of [false, true]) {
      const bf = batchFirst ? "True" : "False";
      const tm = (extra = "") =>
        `torch.nn.MultiheadAttention(${E}, ${H}, dropout=0.1, batch_first=${bf}${extra})`;
      cases.push({
        name: `cross-attention batchFirst=${batchFirst}`,
        dtype: "f32",
        module: mha({ batchFirst, dropout: 0.1 }),
        torchModule: tm(),
        inputs: qkv(batchFirst),
        ours: mhaCall({}),
        torch: "m(x0, x1, x2)",
      });
      cases.push({
        name: `self-attention, per-head weights, batchFirst=${batchFirst}`,
        dtype: "f32",
        module: mha({ batchFirst, dropout: 0.1 }),
        torchModule: tm(),
        inputs: [rand(batchFirst ? [N, L, E] : [L, N, E], "f32", seed++)],
        ours: mhaCall({ averageAttnWeights: false }, true),
        torch: "m(x0, x0, x0, average_attn_weights=False)",
      });
      cases.push({
        name: `bool attnMask + bool keyPaddingMask batchFirst=${batchFirst}`,
        dtype: "f32",
        module: mha({ batchFirst }),
        torchModule: tm(),
        inputs: qkv(batchFirst),
        consts: { am: boolMask([L, S], seed++), kpm: boolMask([N, S], seed++) },
        ours: (m, x, c) => mhaCall({ attnMask: c.am, keyPaddingMask: c.kpm })(m, x),
        torch: "m(x0, x1, x2, attn_mask=am, key_padding_mask=kpm)",
      });
      cases.push({
        name: `float attnMask + float keyPaddingMask, needWeights=false, batchFirst=${batchFirst}`,
        dtype: "f32",
        module: mha({ batchFirst }),
        torchModule: tm(),
        inputs: qkv(batchFirst),
        consts: { am: rand([L, S], "f32", seed++, -2, 2), kpm: rand([N, S], "f32", seed++, -2, 2) },
        ours: (m, x, c) =>
          mhaCall({ attnMask: c.am, keyPaddingMask: c.kpm, needWeights: false })(m, x),
        torch: "m(x0, x1, x2, attn_mask=am, key_padding_mask=kpm, need_weights=False)",
      });
      cases.push({
        name: `3-D bool attnMask (N·H, L, S) batchFirst=${batchFirst}`,
        dtype: "f32",
        module: mha({ batchFirst }),
        torchModule: tm(),
        inputs: qkv(batchFirst),
        consts: { am: boolMask([N * H, L, S], seed++) },
        ours: (m, x, c) => mhaCall({ attnMask: c.am, averageAttnWeights: false })(m, x),
        torch: "m(x0, x1, x2, attn_mask=am, average_attn_weights=False)",
      });
      cases.push({
        name: `kdim/vdim differ from embedDim, no bias, batchFirst=${batchFirst}`,
        dtype: "f32",
        module: mha({ batchFirst, kdim: 3, vdim: 5, bias: false }),
        torchModule: tm(", kdim=3, vdim=5, bias=False"),
        inputs: qkv(batchFirst, "f32", 3, 5),
        consts: { kpm: boolMask([N, S], seed++) },
        ours: (m, x, c) => mhaCall({ keyPaddingMask: c.kpm })(m, x),
        torch: "m(x0, x1, x2, key_padding_mask=kpm)",
      });
    }
    // A fully masked row: PyTorch's SDPA path (needWeights=false) gives zero weights, not NaN.
    const fullRow = tensor(
      Array.from({ length: L * S }, (_, i) => Math.floor(i / S) === 1 || i % S === 3),
      { shape: [L, S], dtype: "bool" },
    );
    const padAll = tensor(
      Array.from({ length: N * S }, (_, i) => Math.floor(i / S) === 2 || i % S === 0),
      { shape: [N, S], dtype: "bool" },
    );
    cases.push({
      name: "fully masked rows and a fully padded sequence with needWeights=false",
      dtype: "f32",
      module: mha({ batchFirst: true }),
      torchModule: `torch.nn.MultiheadAttention(${E}, ${H}, batch_first=True)`,
      inputs: qkv(true),
      consts: { am: fullRow, kpm: padAll },
      ours: (m, x, c) =>
        mhaCall({ attnMask: c.am, keyPaddingMask: c.kpm, needWeights: false })(m, x),
      torch: "m(x0, x1, x2, attn_mask=am, key_padding_mask=kpm, need_weights=False)",
    });
    // causal: ours builds the mask; torch needs it given (is_causal is a hint there)
    const causal = tensor(
      Array.from({ length: L * L }, (_, i) => (i % L) > Math.floor(i / L)),
      { shape: [L, L], dtype: "bool" },
    );
    cases.push({
      name: "isCausal without a mask builds the causal mask",
      dtype: "f32",
      module: mha({}),
      torchModule: `torch.nn.MultiheadAttention(${E}, ${H})`,
      inputs: [rand([L, N, E], "f32", seed++)],
      consts: { cm: causal },
      ours: mhaCall({ isCausal: true }, true),
      torch: "m(x0, x0, x0, attn_mask=cm, is_causal=True)",
    });
    cases.push({
      name: "isCausal with the mask given (a hint, as PyTorch)",
      dtype: "f32",
      module: mha({}),
      torchModule: `torch.nn.MultiheadAttention(${E}, ${H})`,
      inputs: [rand([L, N, E], "f32", seed++)],
      consts: { cm: causal },
      ours: (m, x, c) =>
        mhaCall({ isCausal: true, attnMask: c.cm, needWeights: false }, true)(m, x),
      torch: "m(x0, x0, x0, attn_mask=cm, is_causal=True, need_weights=False)",
    });
    cases.push({
      name: "unbatched (L, E) inputs with an (S) padding mask and per-head weights",
      dtype: "f32",
      module: mha({}),
      torchModule: `torch.nn.MultiheadAttention(${E}, ${H})`,
      inputs: [
        rand([L, E], "f32", seed++),
        rand([S, E], "f32", seed++),
        rand([S, E], "f32", seed++),
      ],
      consts: { kpm: boolMask([S], seed++) },
      ours: (m, x, c) => mhaCall({ keyPaddingMask: c.kpm, averageAttnWeights: false })(m, x),
      torch: "m(x0, x1, x2, key_padding_mask=kpm, average_attn_weights=False)",
    });
    cases.push({
      name: "f64 with masks",
      dtype: "f64",
      module: mha({ batchFirst: true }, "f64"),
      torchModule: `torch.nn.MultiheadAttention(${E}, ${H}, batch_first=True)`,
      inputs: qkv(true, "f64"),
      consts: { am: boolMask([L, S], seed++), kpm: boolMask([N, S], seed++) },
      ours: (m, x, c) => mhaCall({ attnMask: c.am, keyPaddingMask: c.kpm })(m, x),
      torch: "m(x0, x1, x2, attn_mask=am, key_padding_mask=kpm)",
    });

    // TransformerEncoderLayer
    const D = 8, FF = 16;
    const tel = (opts: nn.TransformerEncoderLayerOptions, dtype: F = "f32") =>
      randomize(
        new nn.TransformerEncoderLayer(D, H, {
          dimFeedforward: FF,
          ...opts,
        }) as unknown as AnyModule,
        dtype,
        seed += 20,
      );
    const telCall =
      (o: nn.TransformerEncoderLayerForwardOptions) =>
      (m: AnyModule, x: Tensor[]): [Tensor, null] => [
        (m as unknown as nn.TransformerEncoderLayer).call(x[0], o),
        null,
      ];
    for (const batchFirst of [false, true]) {
      for (const [normFirst, act] of [[false, "relu"], [true, "gelu"]] as const) {
        const tm =
          `torch.nn.TransformerEncoderLayer(${D}, ${H}, dim_feedforward=${FF}, activation="${act}", batch_first=${
            batchFirst ? "True" : "False"
          }, norm_first=${normFirst ? "True" : "False"}, layer_norm_eps=1e-6)`;
        const name = `TransformerEncoderLayer ${
          normFirst ? "pre-norm" : "post-norm"
        } ${act} batchFirst=${batchFirst}`;
        cases.push({
          name,
          dtype: "f32",
          module: tel({ batchFirst, normFirst, activation: act, layerNormEps: 1e-6 }),
          torchModule: tm,
          inputs: [rand(batchFirst ? [N, S, D] : [S, N, D], "f32", seed++, -2, 2)],
          ours: telCall({}),
          torch: "(m(x0), None)",
        });
        cases.push({
          name: `${name} with srcMask and srcKeyPaddingMask`,
          dtype: "f32",
          module: tel({ batchFirst, normFirst, activation: act, layerNormEps: 1e-6 }),
          torchModule: tm,
          inputs: [rand(batchFirst ? [N, S, D] : [S, N, D], "f32", seed++, -2, 2)],
          consts: { sm: boolMask([S, S], seed++), kpm: boolMask([N, S], seed++) },
          ours: (m, x, c) => telCall({ srcMask: c.sm, srcKeyPaddingMask: c.kpm })(m, x),
          torch: "(m(x0, src_mask=sm, src_key_padding_mask=kpm), None)",
        });
      }
    }
    const causalS = tensor(
      Array.from({ length: S * S }, (_, i) => (i % S) > Math.floor(i / S)),
      { shape: [S, S], dtype: "bool" },
    );
    cases.push({
      name: "TransformerEncoderLayer unbatched, causal",
      dtype: "f32",
      module: tel({}),
      torchModule: `torch.nn.TransformerEncoderLayer(${D}, ${H}, dim_feedforward=${FF})`,
      inputs: [rand([S, D], "f32", seed++, -2, 2)],
      consts: { cm: causalS },
      ours: telCall({ isCausal: true }),
      torch: "(m(x0, src_mask=cm, is_causal=True), None)",
    });
    cases.push({
      name: "TransformerEncoderLayer f64 pre-norm without bias",
      dtype: "f64",
      module: tel({ normFirst: true, bias: false, batchFirst: true }, "f64"),
      torchModule:
        `torch.nn.TransformerEncoderLayer(${D}, ${H}, dim_feedforward=${FF}, norm_first=True, bias=False, batch_first=True)`,
      inputs: [rand([N, S, D], "f64", seed++, -2, 2)],
      ours: telCall({}),
      torch: "(m(x0), None)",
    });
    await check(cases);
  },
});

Deno.test({
  name: "scaledDotProductAttention matches PyTorch",
  ...needsTorch,
  async fn() {
    const q = rand([2, 3, 4, 8], "f32", 900), k = rand([2, 3, 6, 8], "f32", 901);
    const v = rand([2, 3, 6, 5], "f32", 902);
    const am = boolMask([4, 6], 903, 0.3), fm = rand([4, 6], "f32", 904, -1, 1);
    const sq = rand([4, 8], "f32", 905), sk = rand([4, 8], "f32", 906);
    const ours = [
      nn.scaledDotProductAttention(q, k, v),
      nn.scaledDotProductAttention(q, k, v, { attnMask: am }),
      nn.scaledDotProductAttention(q, k, v, { attnMask: fm, scale: 0.3 }),
      nn.scaledDotProductAttention(sq, sk, sq, { isCausal: true }),
    ];
    const [r] = await numpy([{
      setup: "import torch\nimport torch.nn.functional as F\n" +
        "q, k, v, am, fm, sq, sk = (torch.from_numpy(a) for a in (q, k, v, am, fm, sq, sk))\n" +
        "sdpa = F.scaled_dot_product_attention",
      expr: "[t.numpy() for t in [sdpa(q, k, v), sdpa(q, k, v, attn_mask=~am), " +
        "sdpa(q, k, v, attn_mask=fm, scale=0.3), sdpa(sq, sk, sq, is_causal=True)]]",
      arrays: { q, k, v, am: am.logicalNot(), fm, sq, sk },
    }]);
    assert.equal(r.error, undefined, r.error);
    ours.forEach((o, i) => assertMatches(o, r.results[i], TOL.f32, `sdpa case ${i}`));
  },
});

Deno.test("MultiheadAttention and TransformerEncoderLayer: structure, modes and errors", async (t) => {
  await t.step("state dict names equal PyTorch's", () => {
    const m = new nn.MultiheadAttention(8, 2, { kdim: 3, vdim: 5, bias: false });
    assert.deepEqual(Object.keys(m.stateDict()), [
      "q_proj_weight",
      "k_proj_weight",
      "v_proj_weight",
      "out_proj.weight",
    ]);
    assert.equal(m.in_proj_weight, undefined);
    m.dispose();
    const l = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    assert.deepEqual(Object.keys(l.stateDict()), [
      "self_attn.in_proj_weight",
      "self_attn.in_proj_bias",
      "self_attn.out_proj.weight",
      "self_attn.out_proj.bias",
      "linear1.weight",
      "linear1.bias",
      "linear2.weight",
      "linear2.bias",
      "norm1.weight",
      "norm1.bias",
      "norm2.weight",
      "norm2.bias",
    ]);
    l.dispose();
  });

  await t.step("initialization: xavier-uniform projections, zero biases", () => {
    const m = new nn.MultiheadAttention(8, 2);
    const bound = Math.sqrt(6 / (8 + 24));
    assert.ok((m.in_proj_weight!.abs().max().item() as number) <= bound);
    assert.ok((m.in_proj_weight!.abs().max().item() as number) > bound / 2);
    assert.equal(m.in_proj_bias!.abs().sum().item(), 0);
    assert.equal(m.out_proj.bias!.abs().sum().item(), 0);
    m.dispose();
  });

  await t.step("dropout acts on the attention weights in training mode only", () => {
    const m = new nn.MultiheadAttention(8, 2, { dropout: 0.5, batchFirst: true });
    const x = rand([2, 6, 8], "f32", 50);
    m.eval();
    const [, we] = m.call(x, x, x, { averageAttnWeights: false });
    m.train();
    const [, wt] = m.call(x, x, x, { averageAttnWeights: false });
    const e = we!.dataSync() as Float32Array, d = wt!.dataSync() as Float32Array;
    let zeros = 0;
    for (let i = 0; i < e.length; i++) {
      if (d[i] === 0) zeros++;
      else assert.ok(Math.abs(d[i] - 2 * e[i]) <= 1e-6 * Math.abs(e[i]) + 1e-7);
    }
    assert.ok(zeros > 0 && zeros < e.length);
    for (const a of [x, we!, wt!]) a.dispose();
    m.dispose();
  });

  await t.step("needWeights=false returns null weights", () => {
    const m = new nn.MultiheadAttention(4, 1);
    const x = rand([3, 2, 4], "f32", 60);
    const [y, w] = m.call(x, x, x, { needWeights: false });
    assert.equal(w, null);
    assert.deepEqual(y.shape, [3, 2, 4]);
    for (const a of [x, y]) a.dispose();
    m.dispose();
  });

  await t.step("bad shapes and dtypes are typed errors naming the layer", () => {
    assert.throws(() => new nn.MultiheadAttention(10, 3), ShapeError);
    const m = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = rand([2, 4, 8], "f32", 70), bad = rand([2, 4, 6], "f32", 71);
    assert.throws(
      () => m.call(bad, bad, bad),
      (e: Error) =>
        e instanceof ShapeError && /MultiheadAttention\(embedDim=8, numHeads=2\)/.test(e.message) &&
        /\(2, 4, 6\)/.test(e.message) && /expected query \(N, L, 8\)/.test(e.message),
    );
    assert.throws(
      () => m.call(x, x, x, { attnMask: boolMask([3, 4], 1) }),
      (e: Error) =>
        e instanceof ShapeError && /attnMask/.test(e.message) && /\(4, 4\)/.test(e.message),
    );
    assert.throws(
      () => m.call(x, x, x, { keyPaddingMask: boolMask([4, 2], 1) }),
      (e: Error) => e instanceof ShapeError && /keyPaddingMask/.test(e.message),
    );
    assert.throws(
      () =>
        m.call(x, x, x, { keyPaddingMask: tensor([[0, 1, 0, 0], [0, 0, 0, 1]], { dtype: "i32" }) }),
      DTypeError,
    );
    assert.throws(
      () => new nn.TransformerEncoderLayer(8, 2, { activation: "tanh" as never }),
      ShapeError,
    );
    for (const a of [x, bad]) a.dispose();
    m.dispose();
  });
});

Deno.test("attention layers free their intermediates", () => {
  // dropout 0: this checks our layers' intermediates, not Dropout's
  const m = new nn.TransformerEncoderLayer(8, 2, {
    dimFeedforward: 16,
    batchFirst: true,
    dropout: 0,
  });
  const mha = new nn.MultiheadAttention(8, 2);
  const x = rand([2, 5, 8], "f32", 80).requireGrad();
  const kpm = boolMask([2, 5], 81);
  const step = () => {
    const y = m.call(x, { srcKeyPaddingMask: kpm, isCausal: true });
    const [z, w] = mha.call(y, y, y, { needWeights: true });
    // (the weights take part in the loss: a graph branch that backward never visits keeps its
    // saved tensors until garbage collection)
    const lz = z.sum(), lw = w!.sum(), l = lz.add(lw);
    l.backward();
    for (const t of [y, z, w!, lz, lw, l]) t.dispose();
  };
  step();
  const before = memory().tensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(memory().tensors, before);
  for (const t of [x, kpm]) t.dispose();
  m.dispose();
  mha.dispose();
});
