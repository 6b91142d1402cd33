/**
 * conv1d, conv2d, maxPool2d and avgPool2d (PyTorch semantics, NCHW) against references written in
 * NumPy: np.pad + sliding_window_view + np.einsum, computed in float64 and cast to the result
 * dtype (PyTorch is not a dependency of this suite yet).
 *
 * Tolerances: our kernels accumulate in float64 and round once, like the float64 reference, so
 * f32 uses rtol 1e-5 with atol 1e-5·taps (taps = kernel positions × channels per group, for sums
 * that cancel to near 0); f64 rtol/atol 1e-12; integer pools must match exactly.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  avgPool2d,
  conv1d,
  conv2d,
  type DType,
  DTypeError,
  maxPool2d,
  memory,
  ShapeError,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { assertMatches, needsNumpy, numpy } from "../helpers/numpy.ts";
import { FC_PARAMS, type Layout, LAYOUTS, makeTensor } from "../helpers/gen.ts";

/** NumPy references. Padding is (top, bottom, left, right); shapes are NCHW or CHW. */
const REF = `
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as swv

def conv_ref(x, w, b, stride, pads, dil, groups):
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    rt = np.result_type(x, w, *([] if b is None else [b]))
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    O, Cg, KH, KW = w.shape
    v = swv(xp, (dil[0] * (KH - 1) + 1, dil[1] * (KW - 1) + 1), axis=(2, 3))
    v = v[:, :, ::stride[0], ::stride[1], ::dil[0], ::dil[1]]
    N, C, OH, OW = v.shape[:4]
    v = v.reshape(N, groups, C // groups, OH, OW, KH, KW)
    wg = w.astype(np.float64).reshape(groups, O // groups, Cg, KH, KW)
    out = np.einsum("ngchwij,gocij->ngohw", v, wg).reshape(N, O, OH, OW)
    if b is not None:
        out = out + b.astype(np.float64)[None, :, None, None]
    out = out.astype(rt)
    return out[0] if unbatched else out

def pool_len(L, k, p, s, d, ceil):
    o = (L + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= L + p:
        o -= 1
    return o

def windows(a, k, s, d, o):
    v = swv(a, (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1), axis=(-2, -1))
    return v[..., ::s[0], ::s[1], ::d[0], ::d[1]][..., :o[0], :o[1], :, :]

def pool_ref(x, kind, k, s, p, d, ceil, include_pad):
    H, W = x.shape[-2:]
    o = [pool_len(L, k[i], p[i], s[i], d[i], ceil) for i, L in enumerate((H, W))]
    # right-side room for windows that ceil mode lets run past the padding
    extra = [max(0, (o[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (L + 2 * p[i])) for i, L in enumerate((H, W))]
    lead = [(0, 0)] * (x.ndim - 2)
    pw = lead + [(p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])]
    xf = x.astype(np.float64)
    if kind == "max":
        r = windows(np.pad(xf, pw, constant_values=-np.inf), k, s, d, o).max(axis=(-2, -1))
        return r.astype(x.dtype)
    total = windows(np.pad(xf, pw), k, s, d, o).sum(axis=(-2, -1))
    ones = np.ones((H, W))
    if include_pad:
        mask = np.pad(ones, ((p[0], p[0]), (p[1], p[1])), constant_values=1)
        mask = np.pad(mask, ((0, extra[0]), (0, extra[1])))
    else:
        mask = np.pad(ones, ((p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])))
    div = windows(mask, k, s, d, o).sum(axis=(-2, -1))
    return (total / div).astype(x.dtype)
`;

function disposeAll(ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

interface ConvCase {
  x: Tensor;
  w: Tensor;
  b: Tensor | null;
  stride: [number, number];
  pads: [number, number, number, number];
  dil: [number, number];
  groups: number;
  taps: number;
  /** Our call, given the case. */
  run: () => Tensor;
  label: string;
}

function convRefs(cases: ConvCase[]) {
  return numpy(cases.map((c) => ({
    setup: REF,
    expr: "conv_ref(x, w, b if has_b else None, stride, pads, dil, groups)",
    arrays: c.b ? { x: c.x, w: c.w, b: c.b } : { x: c.x, w: c.w } as Record<string, Tensor>,
    scalars: {
      stride: c.stride,
      pads: c.pads,
      dil: c.dil,
      groups: c.groups,
      has_b: c.b !== null,
    },
  })));
}

async function checkConv(cases: ConvCase[]): Promise<void> {
  const refs = await convRefs(cases);
  cases.forEach((c, i) => {
    assert.equal(refs[i].error, undefined, `${c.label}: numpy raised ${refs[i].error}`);
    const got = c.run();
    const d = got.dtype;
    const tol = d === "f64"
      ? { rtol: 1e-12, atol: 1e-12 * c.taps }
      : d === "f32"
      ? { rtol: 1e-5, atol: 1e-5 * c.taps }
      : { rtol: 0, atol: 0 };
    assertMatches(got, refs[i].results[0], tol, c.label);
    disposeAll([got, c.x, c.w, c.b]);
  });
}

const FLOATS: DType[] = ["f32", "f32", "f32", "f64"];

Deno.test("conv2d matches a NumPy reference", { ...needsNumpy }, async (t) => {
  await t.step(
    "random stride/padding/dilation/groups, bias, unbatched and strided input",
    async () => {
      const arb = fc.record({
        batch: fc.integer({ min: 0, max: 2 }), // 0: unbatched (C, H, W)
        groups: fc.integer({ min: 1, max: 3 }),
        cg: fc.integer({ min: 1, max: 2 }),
        og: fc.integer({ min: 1, max: 2 }),
        k: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
        stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
        pad: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
        dil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
        extra: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })),
        bias: fc.boolean(),
        xl: fc.constantFrom(...LAYOUTS),
        wl: fc.constantFrom(...LAYOUTS),
        dtype: fc.constantFrom(...FLOATS),
      });
      const cases = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 60 }).map((r, i): ConvCase => {
        const C = r.groups * r.cg, O = r.groups * r.og;
        const hw = [0, 1].map((a) =>
          Math.max(1, r.dil[a] * (r.k[a] - 1) + 1 - 2 * r.pad[a] + r.extra[a])
        );
        const xs = [...(r.batch ? [r.batch] : []), C, ...hw];
        const x = makeTensor(xs, r.dtype, 3 * i + 1, r.xl);
        const w = makeTensor([O, r.cg, ...r.k], r.dtype, 3 * i + 2, r.wl);
        const b = r.bias ? makeTensor([O], r.dtype, 3 * i + 3) : null;
        const stride = r.stride, dil = r.dil, groups = r.groups, padding = r.pad;
        return {
          x,
          w,
          b,
          stride,
          dil,
          groups,
          pads: [r.pad[0], r.pad[0], r.pad[1], r.pad[1]],
          taps: r.cg * r.k[0] * r.k[1],
          run: () => conv2d(x, w, { bias: b, stride, padding, dilation: dil, groups }),
          label: `conv2d x${JSON.stringify(xs)} (${r.xl}) w${JSON.stringify(w.shape)} ${
            JSON.stringify({ stride, padding, dil, groups, bias: r.bias })
          }`,
        };
      });
      await checkConv(cases);
    },
  );

  await t.step('padding "same" and "valid", scalar-number options, mixed dtypes', async () => {
    const mk = (
      xs: number[],
      ws: number[],
      opts: { stride?: number; padding?: "same" | "valid"; dilation?: [number, number] },
      pads: [number, number, number, number],
      xd: DType = "f32",
      wd: DType = "f32",
      xl: Layout = "contiguous",
    ): ConvCase => {
      const x = makeTensor(xs, xd, xs.length * 7 + ws[3], xl);
      const w = makeTensor(ws, wd, ws[2] * 13 + ws[3]);
      const dil = opts.dilation ?? [1, 1];
      return {
        x,
        w,
        b: null,
        stride: [opts.stride ?? 1, opts.stride ?? 1],
        pads,
        dil,
        groups: 1,
        taps: ws[1] * ws[2] * ws[3],
        run: () => conv2d(x, w, { ...opts }),
        label: `conv2d ${xd}${JSON.stringify(xs)} ${wd}${JSON.stringify(ws)} ${
          JSON.stringify(opts)
        }`,
      };
    };
    await checkConv([
      mk([1, 2, 5, 6], [3, 2, 3, 3], { padding: "same" }, [1, 1, 1, 1]),
      mk([2, 1, 5, 6], [2, 1, 2, 4], { padding: "same" }, [0, 1, 1, 2]),
      mk([1, 1, 7, 7], [1, 1, 2, 3], { padding: "same", dilation: [3, 2] }, [1, 2, 2, 2]),
      mk([1, 2, 5, 6], [3, 2, 3, 2], { padding: "valid", stride: 2 }, [0, 0, 0, 0]),
      mk([2, 5, 6], [3, 2, 3, 2], { stride: 2 }, [0, 0, 0, 0], "f32", "f32", "transposed"),
      mk([1, 2, 4, 4], [1, 2, 3, 3], {}, [0, 0, 0, 0], "f32", "f64"),
      mk([1, 2, 4, 4], [1, 2, 3, 3], {}, [0, 0, 0, 0], "i32", "i32"),
      mk([1, 2, 4, 4], [1, 2, 3, 3], {}, [0, 0, 0, 0], "i8", "f32"),
    ]);
  });
});

Deno.test("conv1d matches a NumPy reference", { ...needsNumpy }, async () => {
  const arb = fc.record({
    batch: fc.integer({ min: 0, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    cg: fc.integer({ min: 1, max: 3 }),
    og: fc.integer({ min: 1, max: 2 }),
    k: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 3 }),
    pad: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant("same" as const)),
    dil: fc.integer({ min: 1, max: 3 }),
    extra: fc.integer({ min: 0, max: 6 }),
    bias: fc.boolean(),
    xl: fc.constantFrom(...LAYOUTS),
    dtype: fc.constantFrom(...FLOATS),
  });
  const cases = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 40 }).map((r, i): ConvCase => {
    const C = r.groups * r.cg, O = r.groups * r.og;
    const span = r.dil * (r.k - 1) + 1;
    const p = r.pad === "same" ? 0 : r.pad;
    const L = Math.max(1, span - 2 * p + r.extra);
    const xs = [...(r.batch ? [r.batch] : []), C, L];
    const x = makeTensor(xs, r.dtype, 3 * i + 1, r.xl);
    const w = makeTensor([O, r.cg, r.k], r.dtype, 3 * i + 2);
    const b = r.bias ? makeTensor([O], r.dtype, 3 * i + 3) : null;
    const stride = r.pad === "same" ? 1 : r.stride;
    const total = r.dil * (r.k - 1);
    const pads: [number, number, number, number] = r.pad === "same"
      ? [0, 0, Math.floor(total / 2), total - Math.floor(total / 2)]
      : [0, 0, p, p];
    // The reference sees the 1-D case as 2-D with H = 1.
    const x4 = x.unsqueeze(-2), w4 = w.unsqueeze(-2);
    const opts = { bias: b, stride, padding: r.pad, dilation: r.dil, groups: r.groups };
    return {
      x: x4,
      w: w4,
      b,
      stride: [1, stride],
      pads,
      dil: [1, r.dil],
      groups: r.groups,
      taps: r.cg * r.k,
      run: () => {
        const y = conv1d(x, w, opts);
        disposeAll([x, w]);
        try {
          return y.unsqueeze(-2);
        } finally {
          y.dispose();
        }
      },
      label: `conv1d x${JSON.stringify(xs)} (${r.xl}) w${JSON.stringify(w.shape)} ${
        JSON.stringify({ ...opts, bias: r.bias })
      }`,
    };
  });
  await checkConv(cases);
});

interface PoolCase {
  x: Tensor;
  kind: "max" | "avg";
  k: [number, number];
  s: [number, number];
  p: [number, number];
  d: [number, number];
  ceil: boolean;
  includePad: boolean;
  run: () => Tensor;
  label: string;
}

async function checkPools(cases: PoolCase[]): Promise<void> {
  const refs = await numpy(cases.map((c) => ({
    setup: REF,
    expr: "pool_ref(x, kind, k, s, p, d, ceil, include_pad)",
    arrays: { x: c.x },
    scalars: {
      kind: c.kind,
      k: c.k,
      s: c.s,
      p: c.p,
      d: c.d,
      ceil: c.ceil,
      include_pad: c.includePad,
    },
  })));
  cases.forEach((c, i) => {
    assert.equal(refs[i].error, undefined, `${c.label}: numpy raised ${refs[i].error}`);
    const got = c.run();
    const tol = got.dtype === "f64" ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-6, atol: 1e-6 };
    assertMatches(got, refs[i].results[0], got.dtype.startsWith("f") ? tol : {}, c.label);
    disposeAll([got, c.x]);
  });
}

const POOL_DTYPES: DType[] = ["f32", "f32", "f64", "i32"];

Deno.test("maxPool2d and avgPool2d match a NumPy reference", { ...needsNumpy }, async () => {
  const arb = fc.record({
    kind: fc.constantFrom("max" as const, "avg" as const),
    lead: fc.constantFrom([1], [3], [1, 3], [2, 2]), // (C, H, W) or (N, C, H, W)
    k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))),
    padFrac: fc.tuple(fc.boolean(), fc.boolean()),
    dil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    extra: fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })),
    ceil: fc.boolean(),
    includePad: fc.boolean(),
    layout: fc.constantFrom(...LAYOUTS),
    dtype: fc.constantFrom(...POOL_DTYPES),
  });
  const cases = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 120 }).map((r, i): PoolCase => {
    const k = r.k;
    const p: [number, number] = [0, 1].map((a) => (r.padFrac[a] ? Math.floor(k[a] / 2) : 0)) as [
      number,
      number,
    ];
    const d: [number, number] = r.kind === "max" ? r.dil : [1, 1];
    const s = r.stride ?? k;
    const hw = [0, 1].map((a) => Math.max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a] + r.extra[a]));
    const x = makeTensor([...r.lead, ...hw], r.dtype, i + 1, r.layout);
    const run = r.kind === "max"
      ? () =>
        maxPool2d(x, {
          kernelSize: k,
          stride: r.stride,
          padding: p,
          dilation: d,
          ceilMode: r.ceil,
        })
      : () =>
        avgPool2d(x, {
          kernelSize: k,
          stride: r.stride,
          padding: p,
          ceilMode: r.ceil,
          countIncludePad: r.includePad,
        });
    return {
      x,
      kind: r.kind,
      k,
      s,
      p,
      d,
      ceil: r.ceil,
      includePad: r.includePad,
      run,
      label: `${r.kind}Pool2d ${r.dtype}${JSON.stringify(x.shape)} (${r.layout}) ${
        JSON.stringify({ k, s, p, d, ceil: r.ceil, includePad: r.includePad })
      }`,
    };
  });
  // A NaN inside a window propagates through max pooling.
  const nan = tensor([[[1, NaN, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]]);
  cases.push({
    x: nan,
    kind: "max",
    k: [2, 2],
    s: [1, 2],
    p: [1, 0],
    d: [1, 1],
    ceil: true,
    includePad: true,
    run: () => maxPool2d(nan, { kernelSize: 2, stride: [1, 2], padding: [1, 0], ceilMode: true }),
    label: "maxPool2d with NaN",
  });
  await checkPools(cases);
});

Deno.test("conv and pooling reject bad shapes with clear errors", () => {
  const x = makeTensor([1, 4, 5, 5], "f32", 1), w = makeTensor([6, 2, 3, 3], "f32", 2);
  const bad: [() => unknown, RegExp][] = [
    [() => conv2d(x, w, { groups: 3 }), /groups=3 must divide both the input channels \(4\)/],
    [() => conv2d(x, w), /input has 4 channels but the weight expects weight.shape\[1\] × groups/],
    [() => conv2d(x, w, { groups: 2, padding: "same", stride: 2 }), /"same" needs stride 1/],
    [
      () => conv2d(makeTensor([1, 4, 2, 2], "f32", 3), w, { groups: 2 }),
      /kernel \(3×3\) is larger than the padded input \(length 2 on H\)/,
    ],
    [
      () => conv2d(x, w, { groups: 2, dilation: 3 }),
      /input of shape \(1, 4, 5, 5\) and weight of shape \(6, 2, 3, 3\): the dilated kernel/,
    ],
    [() => conv2d(makeTensor([4, 5], "f32", 4), w), /expected \(N, C_in, H, W\) or \(C_in, H, W\)/],
    [() => conv2d(x, makeTensor([6, 4, 3], "f32", 5)), /weight of shape \(6, 4, 3\) has 3 axes/],
    [
      () => conv2d(x, w, { groups: 2, bias: [1, 2] }),
      /bias of shape \(2,\).*expected shape \(6,\)/,
    ],
    [() => conv2d(x, w, { groups: 2, stride: 0 }), /stride must be an integer ≥ 1/],
    [
      () => conv1d(makeTensor([1, 3, 2], "f32", 6), makeTensor([2, 3, 4], "f32", 7)),
      /length 2 on L/,
    ],
    [() => maxPool2d(x, { kernelSize: 2, padding: 2 }), /at most half the kernel size/],
    [() => maxPool2d(makeTensor([5, 5], "f32", 8), { kernelSize: 2 }), /has 2 axes/],
    [
      () => avgPool2d(makeTensor([1, 1, 2, 2], "f32", 9), { kernelSize: 3 }),
      /too small for kernel/,
    ],
  ];
  const before = memory().tensors;
  for (const [f, re] of bad) {
    assert.throws(f, (e: Error) => {
      assert.ok(e instanceof ShapeError, `${e}`);
      assert.match(e.message, re);
      return true;
    });
  }
  assert.ok(memory().tensors <= before + 7); // only the test's own operands remain
  const bools = makeTensor([1, 1, 2, 2], "bool", 10);
  assert.throws(() => avgPool2d(bools, { kernelSize: 2 }), DTypeError);
  disposeAll([x, w, bools]);
});

Deno.test("conv2d and pooling free their intermediates", () => {
  const x = makeTensor([2, 3, 6], "f32", 1, "transposed"), w = makeTensor([4, 3, 2], "f32", 2);
  const x4 = makeTensor([3, 5, 5], "f32", 3), w4 = makeTensor([2, 3, 2, 2], "f32", 4);
  const before = memory().tensors;
  const outs = [
    conv1d(x, w, { bias: [1, 2, 3, 4], padding: "same" }),
    conv2d(x4, w4, { padding: [1, 0] }),
    maxPool2d(x4, { kernelSize: 2, ceilMode: true }),
    avgPool2d(x4, { kernelSize: [2, 3], stride: 1 }),
  ];
  assert.equal(memory().tensors, before + outs.length);
  disposeAll(outs);
  assert.equal(memory().tensors, before);
  disposeAll([x, w, x4, w4]);
});
