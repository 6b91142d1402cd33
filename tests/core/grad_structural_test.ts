/**
 * Backward rules of the structural ops (indexing, joining, einsum/dot/outer, convolution and
 * pooling) against PyTorch on random shapes and memory layouts, in f32 (rtol 1e-5, atol 1e-5:
 * sums of up to a few hundred products) and f64 (rtol 1e-10, atol 1e-12).
 *
 * Each case computes `loss = sum(out * W)` with a fixed random W of the output's shape, so every
 * output element gets a distinct gradient, and compares the loss's value and every input
 * gradient. All cases of a test run in one Python process.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  avgPool2d,
  chunk,
  concat,
  conv1d,
  conv2d,
  dot,
  type DType,
  einsum,
  gather,
  indexSelect,
  maskedSelect,
  maxPool2d,
  memory,
  outer,
  pad,
  type PadMode,
  repeat,
  roll,
  scatter,
  scatterAdd,
  split,
  stack,
  take,
  type Tensor,
  tensor,
  tile,
  where,
} from "../../mod.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";
import { arbBroadcastPair, arbShape, type Layout, makeTensor, rng } from "../helpers/gen.ts";

/** One differential case: inputs (float ones get gradients), our op, the torch expression. */
interface Case {
  name: string;
  inputs: Tensor[];
  ours: (...x: Tensor[]) => Tensor;
  /** Python over t0, t1, ... (torch tensors; float ones require grad) and scalars. */
  torch: string;
  scalars?: Record<string, unknown>;
}

const isFloat = (t: Tensor) => t.dtype === "f32" || t.dtype === "f64";
const TOL = {
  f32: { rtol: 1e-5, atol: 1e-5 },
  f64: { rtol: 1e-10, atol: 1e-12 },
} as const;

/** Run every case here and in torch (one Python call); compare loss and gradients. */
async function check(cases: Case[]): Promise<void> {
  const ours = cases.map((c, k) => {
    const leaves = c.inputs.map((x) => (isFloat(x) ? x.detach().requireGrad() : x));
    const out = c.ours(...leaves);
    const w = makeTensor(out.shape, out.dtype as DType, 1000 + k);
    const loss = out.mul(w).sum();
    loss.backward();
    return { leaves, out, w, loss };
  });
  const refs = await numpy(cases.map((c, k) => ({
    setup: "import torch\n" +
      c.inputs.map((x, i) =>
        `t${i} = torch.tensor(x${i}${isFloat(x) ? ", requires_grad=True" : ""})`
      ).join("\n") +
      `\nout = ${c.torch}\nloss = (out * torch.tensor(w)).sum()\nloss.backward()`,
    expr: "[out.detach().numpy(), loss.detach().numpy()] + [" +
      c.inputs.flatMap((x, i) => (isFloat(x) ? [`t${i}.grad.numpy()`] : [])).join(", ") + "]",
    arrays: { ...Object.fromEntries(c.inputs.map((x, i) => [`x${i}`, x])), w: ours[k].w },
    scalars: c.scalars,
  })));
  cases.forEach((c, k) => {
    const r = refs[k];
    assert.equal(r.error, undefined, `${c.name}: torch raised ${r.error}`);
    const { leaves, out, loss } = ours[k];
    const tol = TOL[out.dtype as "f32" | "f64"];
    assertMatches(out, r.results[0], { ...tol, dtype: false }, `${c.name} output`);
    assertMatches(loss, r.results[1], { ...tol, dtype: false }, `${c.name} loss`);
    let j = 2;
    leaves.forEach((x, i) => {
      if (!isFloat(x)) return;
      assert.ok(x.grad, `${c.name}: input ${i} got no gradient`);
      assertMatches(x.grad!, r.results[j++], { ...tol, dtype: false }, `${c.name} grad ${i}`);
    });
  });
  for (const o of ours) {
    for (const t of [...o.leaves, o.out, o.w, o.loss]) t.dispose();
  }
  for (const c of cases) for (const t of c.inputs) t.dispose();
}

const LAYOUTS: Layout[] = ["contiguous", "transposed", "strided", "expanded"];
const DTYPES: ("f32" | "f64")[] = ["f32", "f64"];

/** Integer tensor of `shape` with values in lo..hi. */
function ints(shape: number[], lo: number, hi: number, seed: number): Tensor {
  return makeTensor(shape, "i32", seed, "contiguous", { lo, hi });
}

/** Per-case parameters drawn with fast-check (reproducible). */
const draw = <T>(arb: fc.Arbitrary<T>, n: number, seed: number) =>
  fc.sample(arb, { seed, numRuns: n });

/** A random tensor of `dtype` in one of the layouts, chosen by `k`. */
function rand(shape: number[], k: number, seed: number, dtype: DType): Tensor {
  return makeTensor(shape, dtype, seed, LAYOUTS[k % 4]);
}

Deno.test({
  name: "indexing gradients match PyTorch",
  ...needsTorch,
  async fn() {
    const cases: Case[] = [];
    const shapes = draw(arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }), 16, 1);
    shapes.forEach((shape, k) => {
      const dt = DTYPES[k % 2];
      const x = rand(shape, k, 10 + k, dt);
      const a = k % shape.length, n = shape[a];
      // take along an axis with repeated and negative indices, index of rank 0..2
      const idxShape = [[], [5], [2, 3]][k % 3];
      const idx = ints(idxShape, -n, n - 1, 20 + k);
      cases.push({
        name: `take ${JSON.stringify(shape)} axis ${a} idx ${JSON.stringify(idxShape)}`,
        inputs: [x, idx],
        ours: (x, i) => take(x, i, a),
        torch: `t0.index_select(${a}, (t1.long() % ${n}).reshape(-1)).reshape(` +
          `t0.shape[:${a}] + t1.shape + t0.shape[${a + 1}:])`,
      });
      const size = shape.reduce((p, d) => p * d, 1);
      cases.push({
        name: `take flattened ${JSON.stringify(shape)}`,
        inputs: [rand(shape, k + 1, 30 + k, dt), ints([2, 2], -size, size - 1, 31 + k)],
        ours: (x, i) => take(x, i),
        torch: `t0.reshape(-1)[t1.long()]`,
      });
      cases.push({
        name: `indexSelect ${JSON.stringify(shape)} axis ${a}`,
        inputs: [rand(shape, k + 2, 40 + k, dt), ints([4], 0, n - 1, 41 + k)],
        ours: (x, i) => indexSelect(x, a, i),
        torch: `torch.index_select(t0, ${a}, t1.long())`,
      });
      // gather with an index no longer than x off the axis
      const gShape = shape.map((d, i) => (i === a ? 3 : Math.max(1, d - (k % 2))));
      cases.push({
        name: `gather ${JSON.stringify(shape)} axis ${a}`,
        inputs: [rand(shape, k + 3, 50 + k, dt), ints(gShape, 0, n - 1, 51 + k)],
        ours: (x, i) => gather(x, a, i),
        torch: `torch.gather(t0, ${a}, t1.long())`,
      });
      cases.push({
        name: `scatterAdd ${JSON.stringify(shape)} axis ${a}`,
        inputs: [
          rand(shape, k, 60 + k, dt),
          ints(gShape, 0, n - 1, 61 + k),
          rand(gShape, k + 5, 62, dt),
        ],
        ours: (x, i, s) => scatterAdd(x, a, i, s),
        torch: `t0.scatter_add(${a}, t1.long(), t2)`,
      });
      // scatter with distinct targets per line (PyTorch's result is unspecified otherwise)
      const m = Math.max(1, n - 1);
      const sShape = shape.map((d, i) => (i === a ? m : d));
      const r = rng(70 + k);
      const lines = sShape.reduce((p, d) => p * d, 1) / m;
      const perm: number[][] = Array.from({ length: lines }, () => {
        const p = Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [p[i], p[j]] = [p[j], p[i]];
        }
        return p.slice(0, m);
      });
      // lay the permutations along axis a: line l = (outer, inner) index
      const inner = sShape.slice(a + 1).reduce((p, d) => p * d, 1);
      const flat = new Int32Array(lines * m);
      for (let l = 0; l < lines; l++) {
        const o = Math.floor(l / inner), i = l % inner;
        for (let j = 0; j < m; j++) flat[(o * m + j) * inner + i] = perm[l][j];
      }
      cases.push({
        name: `scatter ${JSON.stringify(shape)} axis ${a}`,
        inputs: [
          rand(shape, k + 1, 80 + k, dt),
          tensor(flat, { shape: sShape }),
          rand(sShape, k, 81, dt),
        ],
        ours: (x, i, s) => scatter(x, a, i, s),
        torch: `t0.scatter(${a}, t1.long(), t2)`,
      });
    });
    draw(arbBroadcastPair({ maxRank: 3, maxDim: 4 }), 10, 2).forEach(([s1, s2], k) => {
      const dt = DTYPES[k % 2];
      const c = makeTensor(s1, "bool", 90 + k);
      cases.push({
        name: `where ${JSON.stringify(s1)} ${JSON.stringify(s2)}`,
        inputs: [c, rand(s2, k, 91 + k, dt), rand(s1, k + 3, 92 + k, dt)],
        ours: (c, a, b) => where(c, a, b),
        torch: `torch.where(t0, t1, t2)`,
      });
      cases.push({
        name: `maskedSelect ${JSON.stringify(s2)} mask ${JSON.stringify(s1)}`,
        inputs: [rand(s2, k + 1, 93 + k, dt), makeTensor(s1, "bool", 94 + k)],
        ours: (x, m) => maskedSelect(x, m),
        torch: `torch.masked_select(t0, t1)`,
      });
    });
    await check(cases);
  },
});

Deno.test({
  name: "joining gradients match PyTorch",
  ...needsTorch,
  async fn() {
    const cases: Case[] = [];
    const shapes = draw(arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }), 12, 3);
    const modes: PadMode[] = ["edge", "reflect", "symmetric", "wrap"];
    shapes.forEach((shape, k) => {
      const dt = DTYPES[k % 2];
      const a = k % shape.length;
      const other = shape.map((d, i) => (i === a ? (k % 3) + 1 : d));
      cases.push({
        name: `concat ${JSON.stringify(shape)} axis ${a}`,
        inputs: [
          rand(shape, k, 100 + k, dt),
          rand(other, k + 3, 101 + k, dt),
          rand(shape, k + 5, 102, dt),
        ],
        ours: (x, y, z) => concat([x, y, z], a),
        torch: `torch.cat([t0, t1, t2], ${a})`,
      });
      const sa = k % (shape.length + 1);
      cases.push({
        name: `stack ${JSON.stringify(shape)} axis ${sa}`,
        inputs: [rand(shape, k + 1, 103 + k, dt), rand(shape, k + 2, 104 + k, dt)],
        ours: (x, y) => stack([x, y], sa),
        torch: `torch.stack([t0, t1], ${sa})`,
      });
      const pairs = shape.map((_, i) => [(i + k) % 3, (i + 2 * k) % 2]);
      const torchPad = pairs.slice().reverse().flat();
      cases.push({
        name: `pad constant ${JSON.stringify(shape)} ${JSON.stringify(pairs)}`,
        inputs: [rand(shape, k, 105 + k, dt)],
        ours: (x) => pad(x, pairs, { value: 1.5 }),
        torch: `torch.nn.functional.pad(t0, ${JSON.stringify(torchPad)}, value=1.5)`,
      });
      const mode = modes[k % 4];
      const wide = shape.map((d, i) => [(i + k) % 3 + (k % 2) * d, (i + 1) % 3]);
      cases.push({
        name: `pad ${mode} ${JSON.stringify(shape)} ${JSON.stringify(wide)}`,
        inputs: [rand(shape, k + 1, 106 + k, dt)],
        ours: (x) => pad(x, wide, { mode }),
        // numpy computes the index map; torch differentiates the index_select
        torch: `(lambda t: [t := t.index_select(i, torch.tensor(np.pad(np.arange(n), ` +
          `p, mode="${mode}"))) for i, (n, p) in enumerate(zip(t.shape, ${
            JSON.stringify(wide)
          }))][-1])(t0)`,
      });
      const reps = [[2], [1, 3], [2, 1, 2, 1]][k % 3];
      cases.push({
        name: `tile ${JSON.stringify(shape)} ${JSON.stringify(reps)}`,
        inputs: [rand(shape, k + 2, 107 + k, dt)],
        ours: (x) => tile(x, reps),
        torch: `t0.tile(${JSON.stringify(reps)})`,
      });
      cases.push({
        name: `repeat ${JSON.stringify(shape)} 3 times on axis ${a}`,
        inputs: [rand(shape, k + 3, 108 + k, dt)],
        ours: (x) => repeat(x, 3, a),
        torch: `torch.repeat_interleave(t0, 3, dim=${a})`,
      });
      cases.push({
        name: `repeat flattened ${JSON.stringify(shape)}`,
        inputs: [rand(shape, k, 109 + k, dt)],
        ours: (x) => repeat(x, 2),
        torch: `torch.repeat_interleave(t0.reshape(-1), 2)`,
      });
      const counts = Array.from({ length: shape[a] }, (_, i) => (i + k) % 3);
      cases.push({
        name: `repeat counts ${JSON.stringify(counts)} ${JSON.stringify(shape)} axis ${a}`,
        inputs: [rand(shape, k + 1, 110 + k, dt)],
        ours: (x) => repeat(x, counts, a),
        torch: `torch.repeat_interleave(t0, torch.tensor(${JSON.stringify(counts)}), dim=${a})`,
      });
      const shifts = shape.map((_, i) => (i * 2 + k) % 5 - 2);
      const axes = shape.map((_, i) => i);
      cases.push({
        name: `roll ${JSON.stringify(shape)} ${JSON.stringify(shifts)}`,
        inputs: [rand(shape, k + 2, 111 + k, dt)],
        ours: (x) => roll(x, shifts, axes),
        torch: `torch.roll(t0, ${JSON.stringify(shifts)}, ${JSON.stringify(axes)})`,
      });
      cases.push({
        name: `roll flattened ${JSON.stringify(shape)} by ${k - 5}`,
        inputs: [rand(shape, k + 3, 112 + k, dt)],
        ours: (x) => roll(x, k - 5),
        torch: `torch.roll(t0, ${k - 5})`,
      });
      const n = shape[a];
      const points = [Math.floor(n / 3), Math.ceil((2 * n) / 3)];
      const sizes = [points[0], points[1] - points[0], n - points[1]];
      cases.push({
        name: `split ${JSON.stringify(shape)} at ${JSON.stringify(points)} axis ${a}`,
        inputs: [rand(shape, k, 113 + k, dt)],
        ours: (x) => concat(split(x, points, a).map((p, i) => p.mul(i + 1)), a),
        torch: `torch.cat([p * (i + 1) for i, p in enumerate(torch.split(t0, ` +
          `${JSON.stringify(sizes)}, ${a}))], ${a})`,
      });
      cases.push({
        name: `chunk ${JSON.stringify(shape)} in 3 axis ${a}`,
        inputs: [rand(shape, k + 1, 114 + k, dt)],
        ours: (x) => concat(chunk(x, 3, a).map((p, i) => p.mul(i + 1)), a),
        torch: `torch.cat([p * (i + 1) for i, p in enumerate(torch.chunk(t0, 3, ${a}))], ${a})`,
      });
    });
    await check(cases);
  },
});

Deno.test({
  name: "einsum, dot and outer gradients match PyTorch",
  ...needsTorch,
  async fn() {
    const specs: [string, number[][]][] = [
      ["ij,jk->ik", [[3, 4], [4, 5]]],
      ["ij,jk", [[2, 3], [3, 2]]],
      ["ii->i", [[4, 4]]],
      ["ii->", [[3, 3]]],
      ["iij,jk->ik", [[3, 3, 2], [2, 4]]],
      ["bij,bjk->bik", [[2, 3, 4], [2, 4, 2]]],
      ["i,i->", [[5], [5]]],
      ["i,j->ij", [[3], [4]]],
      ["ij->ji", [[3, 4]]],
      ["ijk->", [[2, 3, 4]]],
      ["ij->i", [[3, 4]]],
      ["...ij,...jk->...ik", [[2, 1, 3, 4], [3, 4, 2]]],
      ["ij,j->i", [[3, 4], [1]]],
      ["bi,bj,ij->b", [[2, 3], [2, 4], [3, 4]]],
      [",i->i", [[], [4]]],
      ["i,ik,k", [[3], [3, 2], [2]]],
    ];
    const cases: Case[] = specs.map(([spec, shapes], k, _, dt = DTYPES[k % 2]) => ({
      name: `einsum ${spec} ${JSON.stringify(shapes)} (${DTYPES[k % 2]})`,
      inputs: shapes.map((s, i) => rand(s, k + i, 200 + 10 * k + i, dt)),
      ours: (...x) => einsum(spec, ...x),
      torch: `torch.einsum("${spec}", ${shapes.map((_, i) => `t${i}`).join(", ")})`,
    }));
    const dots: number[][][] = [
      [[4], [4]],
      [[3, 4], [4]],
      [[4], [4, 2]],
      [[2, 3], [3, 4]],
      [
        [2, 3, 4],
        [5, 4, 2],
      ],
      [[], [3, 2]],
      [[2, 3], []],
    ];
    dots.forEach(([sa, sb], k) => {
      const dt = DTYPES[k % 2];
      cases.push({
        name: `dot ${JSON.stringify(sa)} · ${JSON.stringify(sb)}`,
        inputs: [rand(sa, k, 300 + k, dt), rand(sb, k + 2, 310 + k, dt)],
        ours: (a, b) => dot(a, b),
        torch: sa.length === 0 || sb.length === 0
          ? "t0 * t1"
          : `torch.tensordot(t0, t1, dims=([t0.ndim - 1], [max(t1.ndim - 2, 0)]))`,
      });
    });
    cases.push({
      name: "outer of a matrix and a vector",
      inputs: [rand([2, 3], 1, 320, "f32"), rand([4], 3, 321, "f32")],
      ours: (a, b) => outer(a, b),
      torch: "torch.outer(t0.reshape(-1), t1)",
    });
    await check(cases);
  },
});

Deno.test({
  name: "convolution and pooling gradients match PyTorch",
  ...needsTorch,
  async fn() {
    const cases: Case[] = [];
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      g: fc.integer({ min: 1, max: 2 }),
      cg: fc.integer({ min: 1, max: 2 }),
      og: fc.integer({ min: 1, max: 2 }),
      h: fc.integer({ min: 5, max: 8 }),
      w: fc.integer({ min: 5, max: 8 }),
      kh: fc.integer({ min: 1, max: 3 }),
      kw: fc.integer({ min: 1, max: 3 }),
      sh: fc.integer({ min: 1, max: 2 }),
      sw: fc.integer({ min: 1, max: 3 }),
      ph: fc.integer({ min: 0, max: 2 }),
      pw: fc.integer({ min: 0, max: 1 }),
      dh: fc.integer({ min: 1, max: 2 }),
      dw: fc.integer({ min: 1, max: 2 }),
      bias: fc.boolean(),
      same: fc.boolean(),
      ceil: fc.boolean(),
      cip: fc.boolean(),
    });
    draw(arb, 14, 4).forEach((p, k) => {
      const dt = DTYPES[k % 2];
      const C = p.g * p.cg, O = p.g * p.og;
      const same = p.same && k % 3 === 0;
      const stride = same ? [1, 1] : [p.sh, p.sw];
      const padding = same ? "same" : [p.ph, p.pw];
      const xs = [p.n, C, p.h, p.w], ws = [O, p.cg, p.kh + (same ? 1 : 0), p.kw];
      const inputs = [rand(xs, k, 400 + k, dt), rand(ws, k + 1, 410 + k, dt)];
      if (p.bias) inputs.push(rand([O], k, 420 + k, dt));
      const opts = {
        stride: stride as [number, number],
        padding: padding as [number, number] | "same",
        dilation: [p.dh, p.dw] as [number, number],
        groups: p.g,
      };
      const tp = same ? `"same"` : `(${p.ph}, ${p.pw})`;
      cases.push({
        name: `conv2d ${JSON.stringify({ xs, ws, ...opts, bias: p.bias })}`,
        inputs,
        ours: (x, w, b) => conv2d(x, w, { ...opts, bias: b }),
        torch: `torch.nn.functional.conv2d(t0, t1, ${p.bias ? "t2" : "None"}, (${stride}), ` +
          `${tp}, (${p.dh}, ${p.dw}), ${p.g})`,
      });
      const xs1 = [p.n, C, p.h + p.w], ws1 = [O, p.cg, p.kw + (same ? 1 : 0)];
      const in1 = [rand(xs1, k + 1, 430 + k, dt), rand(ws1, k + 2, 440 + k, dt)];
      if (p.bias) in1.push(rand([O], k + 1, 450 + k, dt));
      const o1 = {
        stride: same ? 1 : p.sw,
        padding: same ? ("same" as const) : p.pw,
        dilation: p.dw,
        groups: p.g,
      };
      cases.push({
        name: `conv1d ${JSON.stringify({ xs1, ws1, ...o1, bias: p.bias })}`,
        inputs: in1,
        ours: (x, w, b) => conv1d(x, w, { ...o1, bias: b }),
        torch: `torch.nn.functional.conv1d(t0, t1, ${p.bias ? "t2" : "None"}, ${o1.stride}, ` +
          `${same ? `"same"` : o1.padding}, ${p.dw}, ${p.g})`,
      });
      const kernel: [number, number] = [p.kh + 1, p.kw + 1];
      const pp: [number, number] = [Math.min(p.ph, kernel[0] >> 1), Math.min(p.pw, kernel[1] >> 1)];
      const ps: [number, number] = [p.sh, p.sw];
      const unb = k % 4 === 1;
      const px = rand(unb ? [C, p.h, p.w] : [p.n, C, p.h, p.w], k + 2, 460 + k, dt);
      cases.push({
        name: `maxPool2d ${JSON.stringify({ s: px.shape, kernel, ps, pp, ceil: p.ceil })}`,
        inputs: [px],
        ours: (x) =>
          maxPool2d(x, {
            kernelSize: kernel,
            stride: ps,
            padding: pp,
            dilation: [p.dh, p.dw],
            ceilMode: p.ceil,
          }),
        torch: `torch.nn.functional.max_pool2d(t0, (${kernel}), (${ps}), (${pp}), ` +
          `(${p.dh}, ${p.dw}), ceil_mode=${p.ceil ? "True" : "False"})`,
      });
      cases.push({
        name: `avgPool2d ${JSON.stringify({ s: px.shape, kernel, ps, pp, p })}`,
        inputs: [rand(px.shape as number[], k + 3, 470 + k, dt)],
        ours: (x) =>
          avgPool2d(x, {
            kernelSize: kernel,
            stride: ps,
            padding: pp,
            ceilMode: p.ceil,
            countIncludePad: p.cip,
          }),
        torch: `torch.nn.functional.avg_pool2d(t0, (${kernel}), (${ps}), (${pp}), ` +
          `ceil_mode=${p.ceil ? "True" : "False"}, count_include_pad=${p.cip ? "True" : "False"})`,
      });
    });
    cases.push({
      name: "conv2d on unbatched input",
      inputs: [rand([2, 6, 5], 2, 480, "f64"), rand([3, 2, 3, 2], 0, 481, "f64")],
      ours: (x, w) => conv2d(x, w, { padding: 1 }),
      torch: "torch.nn.functional.conv2d(t0, t1, None, 1, 1)",
    });
    await check(cases);
  },
});

Deno.test("the structural backward rules free every intermediate", () => {
  const x = makeTensor([2, 3, 4, 4], "f32", 1, "transposed");
  const w = makeTensor([4, 3, 2, 2], "f32", 2);
  const b = makeTensor([4], "f32", 3);
  const idx = tensor([[[[1]], [[0]]]], { dtype: "i32" });
  const m = makeTensor([3, 4, 4], "bool", 4);
  // Views the closures make on the way are collected in `tmp` and disposed with the output.
  const tmp: Tensor[] = [];
  const v = (t: Tensor) => (tmp.push(t), t);
  const fns: [string, (x: Tensor, w: Tensor, b: Tensor) => Tensor][] = [
    ["take", (x) => take(x, [1, -1], 2)],
    ["gather", (x) => gather(x, 1, idx)],
    ["scatter", (x, w) => scatter(x, 0, idx, w)],
    ["scatterAdd", (x, w) => scatterAdd(x, 0, idx, w)],
    ["where", (x, _w, b) => where(m, x, b)],
    ["maskedSelect", (x) => maskedSelect(x, m)],
    ["concat", (x) => concat([x, x], 1)],
    ["stack", (x) => stack([x, x], 4)],
    ["pad", (x) => pad(x, 1)],
    ["pad reflect", (x) => pad(x, 1, { mode: "reflect" })],
    ["tile", (x) => tile(x, [2, 1])],
    ["repeat", (x) => repeat(x, 2, 0)],
    ["roll", (x) => roll(x, [1, 2], [0, 3])],
    ["einsum", (x, w) => einsum("nchw,ochw->no", v(x.slice(null, null, "2:", "2:")), w)],
    ["dot", (x, _w, b) => dot(x, b)],
    ["dot N-D", (x, w) => dot(v(x.slice(null, null, null, "2:")), w)],
    ["outer", (_x, _w, b) => outer(b, b)],
    ["conv2d", (x, w, b) => conv2d(x, v(w.flip(2)), { bias: b, padding: 1 })],
    [
      "conv1d",
      (x, w) => conv1d(v(x.select(0, 0)), v(v(w.swapaxes(0, 1)).select(3, 0)), { stride: 2 }),
    ],
    ["maxPool2d", (x) => maxPool2d(x, { kernelSize: 2 })],
    ["avgPool2d", (x) => avgPool2d(x, { kernelSize: 3, padding: 1 })],
  ];
  for (const [name, fn] of fns) {
    const leaves = [x, w, b].map((t) => t.detach().requireGrad());
    const before = memory().tensors;
    const out = fn(leaves[0], leaves[1], leaves[2]);
    const loss = out.sum();
    loss.backward();
    out.dispose();
    loss.dispose();
    for (const t of tmp.splice(0)) t.dispose();
    for (const l of leaves) {
      l.grad?.dispose();
      l.grad = null;
    }
    assert.equal(memory().tensors, before, `${name} leaks`);
    for (const l of leaves) l.dispose();
  }
  for (const t of [x, w, b, idx, m]) t.dispose();
});
