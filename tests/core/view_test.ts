import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_DTYPES,
  arange,
  broadcastTo,
  type DType,
  DTypeError,
  expand,
  flip,
  IndexError,
  memory,
  ShapeError,
  type SliceArg,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { assertMatches, needsNumpy, npName, numpy, type RefCase } from "../helpers/numpy.ts";
import { arbShape, LAYOUTS, makeTensor, rng } from "../helpers/gen.ts";

interface Case {
  ours: Tensor;
  ref: RefCase;
  label: string;
  dtype?: boolean;
  tol?: { rtol?: number; atol?: number };
  /** The input, when the result must share its storage (NumPy returns a view). */
  viewOf?: Tensor;
}

async function check(cases: Case[], inputs: Tensor[]): Promise<void> {
  const refs = await numpy(cases.map((c) => c.ref));
  cases.forEach((c, i) => {
    assert.equal(refs[i].error, undefined, `${c.label}: numpy raised ${refs[i].error}`);
    assertMatches(c.ours, refs[i].results[0], { dtype: c.dtype ?? true, ...c.tol }, c.label);
    if (c.viewOf) assert.equal(c.ours.storage, c.viewOf.storage, `${c.label}: zero-copy view`);
  });
  for (const c of cases) c.ours.dispose();
  for (const t of inputs) t.dispose();
}

const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length];
const DTYPES = ALL_DTYPES;
const tup = (xs: readonly number[]) => `(${xs.join(", ")}${xs.length === 1 ? "," : ""})`;

/** A random permutation of 0..n-1 from `seed`. */
function perm(n: number, seed: number): number[] {
  const r = rng(seed);
  const p = [...Array(n).keys()];
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(r() * (k + 1));
    [p[k], p[j]] = [p[j], p[k]];
  }
  return p;
}

/** Base cases: a random tensor (any dtype, any layout) per sample. */
function inputsFor(seed: number, runs: number, shapeOpts = {}) {
  return fc.sample(fc.tuple(arbShape({ maxRank: 4, maxDim: 4, ...shapeOpts }), fc.nat()), {
    seed,
    numRuns: runs,
  }).map(([shape, l], n) => {
    const x = makeTensor(shape, pick(DTYPES, n), n, pick(LAYOUTS, l));
    return { x, shape, n, dt: x.dtype !== "bf16" };
  });
}

Deno.test("view ops match numpy indexing on every layout", { ...needsNumpy }, async (t) => {
  const before = memory().tensors;

  await t.step("reshape (with -1) and flatten; zero-copy wherever numpy views", async () => {
    const cases: Case[] = [], inputs: Tensor[] = [];
    const viewChecks: { r: Tensor; x: Tensor; ref: RefCase }[] = [];
    for (const { x, shape, n, dt } of inputsFor(21, 60)) {
      inputs.push(x);
      const templates: number[][] = [
        [-1],
        [...shape].reverse(),
        shape.length ? [shape[0], -1] : [1, -1],
        [1, ...shape, 1],
        [...shape.slice(0, -1), ...(shape.length ? [1, shape.at(-1)!] : [])],
      ];
      const target = pick(templates, n);
      const r = x.reshape(target);
      cases.push({
        ours: r,
        ref: { expr: `np.reshape(x, ${tup(target)})`, arrays: { x } },
        label: `reshape ${JSON.stringify(shape)} (${x.strides}) to ${JSON.stringify(target)}`,
        dtype: dt,
      });
      // Ask numpy whether the same strided layout reshapes without a copy.
      const span = 1 + x.offset +
        x.shape.reduce((a, d, i) => a + Math.abs(x.strides[i]) * Math.max(d - 1, 0), 0);
      viewChecks.push({
        r,
        x,
        ref: {
          expr: "np.array(np.shares_memory(v.reshape(target), buf))",
          setup: "buf = np.zeros(span, np.float64)\n" +
            "v = np.lib.stride_tricks.as_strided(buf[lo:], shape, [s * 8 for s in strides])\n",
          scalars: { span, lo: x.offset, shape: x.shape, strides: x.strides, target },
        },
      });
      if (x.isContiguous) assert.equal(r.storage, x.storage);
      if (shape.length) {
        const s = n % shape.length, e = s + ((n >> 2) % (shape.length - s));
        const expect = [
          ...shape.slice(0, s),
          shape.slice(s, e + 1).reduce((a, b) => a * b, 1),
          ...shape.slice(e + 1),
        ];
        cases.push({
          ours: x.flatten(s, e - shape.length),
          ref: { expr: `np.reshape(x, ${tup(expect)})`, arrays: { x } },
          label: `flatten ${JSON.stringify(shape)} ${s}..${e}`,
          dtype: dt,
        });
      }
    }
    const views = await numpy(viewChecks.map((v) => v.ref));
    viewChecks.forEach(({ r, x, ref }, i) => {
      assert.equal(views[i].error, undefined, views[i].error);
      const npView = views[i].results[0].values[0] === 1;
      const label = `reshape of ${JSON.stringify(x.shape)} strides ${x.strides} to ` +
        `${JSON.stringify(ref.scalars!.target)}`;
      if (x.size > 0 && npView) assert.equal(r.storage, x.storage, `${label} is a view in numpy`);
    });
    await check(cases, inputs);
  });

  await t.step("transpose, permute, swapaxes and T are zero-copy like numpy", async () => {
    const cases: Case[] = [], inputs: Tensor[] = [];
    for (const { x, shape, n, dt } of inputsFor(22, 40)) {
      inputs.push(x);
      const r = shape.length;
      const p = perm(r, n).map((a, i) => (i % 2 && n % 3 ? a - r : a));
      cases.push(
        { ours: x.T, ref: { expr: "x.T", arrays: { x } }, label: "T", dtype: dt, viewOf: x },
        {
          ours: x.transpose(),
          ref: { expr: "np.transpose(x)", arrays: { x } },
          label: `transpose ${JSON.stringify(shape)}`,
          dtype: dt,
          viewOf: x,
        },
        {
          ours: n % 2 ? x.transpose(p) : x.permute(p),
          ref: { expr: `np.transpose(x, ${tup(p)})`, arrays: { x } },
          label: `permute ${JSON.stringify(shape)} by ${p}`,
          dtype: dt,
          viewOf: x,
        },
      );
      if (r > 0) {
        const a = n % r, b = -1 - ((n >> 1) % r);
        cases.push({
          ours: x.swapaxes(a, b),
          ref: { expr: `np.swapaxes(x, ${a}, ${b})`, arrays: { x } },
          label: `swapaxes ${a} ${b}`,
          dtype: dt,
          viewOf: x,
        });
      }
    }
    await check(cases, inputs);
  });

  await t.step("squeeze, unsqueeze, expand and broadcastTo", async () => {
    const cases: Case[] = [], inputs: Tensor[] = [];
    const arb = fc.tuple(
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 4 }),
      fc.nat(),
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    );
    fc.sample(arb, { seed: 23, numRuns: 40 }).forEach(([shape, l, lead], n) => {
      const x = makeTensor(shape, pick(DTYPES, n), n, pick(LAYOUTS, l));
      inputs.push(x);
      const dt = x.dtype !== "bf16";
      const r = shape.length;
      cases.push({
        ours: x.squeeze(),
        ref: { expr: "np.squeeze(x)", arrays: { x } },
        label: `squeeze ${JSON.stringify(shape)}`,
        dtype: dt,
        viewOf: x,
      });
      const ones = shape.flatMap((d, i) => (d === 1 ? [i - (n % 2) * r] : []));
      if (ones.length) {
        cases.push({
          ours: x.squeeze(ones[0]),
          ref: { expr: `np.squeeze(x, ${ones[0]})`, arrays: { x } },
          label: `squeeze axis ${ones[0]} of ${JSON.stringify(shape)}`,
          dtype: dt,
          viewOf: x,
        });
      }
      const ua = (n % (2 * r + 2)) - (r + 1);
      cases.push({
        ours: x.unsqueeze(ua),
        ref: { expr: `np.expand_dims(x, ${ua})`, arrays: { x } },
        label: `unsqueeze ${ua} of ${JSON.stringify(shape)}`,
        dtype: dt,
        viewOf: x,
      });
      // Broadcast: lengths 1 grow, new leading axes appear; expand may keep lengths with -1.
      const target = [...lead, ...shape.map((d, i) => (d === 1 ? 1 + ((n + i) % 3) : d))];
      const withKeep = target.map((d, i) =>
        i >= lead.length && shape[i - lead.length] === d && (n + i) % 2 ? -1 : d
      );
      cases.push(
        {
          ours: n % 2 ? broadcastTo(x, target) : x.broadcastTo(target),
          ref: { expr: `np.broadcast_to(x, ${tup(target)})`, arrays: { x } },
          label: `broadcastTo ${JSON.stringify(shape)} → ${JSON.stringify(target)}`,
          dtype: dt,
          viewOf: x,
        },
        {
          ours: n % 2 ? expand(x, withKeep) : x.expand(withKeep),
          ref: { expr: `np.broadcast_to(x, ${tup(target)})`, arrays: { x } },
          label: `expand ${JSON.stringify(shape)} → ${JSON.stringify(withKeep)}`,
          dtype: dt,
          viewOf: x,
        },
      );
    });
    await check(cases, inputs);
  });

  await t.step("slice with strings, objects, indices, negatives and clamping", async () => {
    const cases: Case[] = [], inputs: Tensor[] = [];
    const part = fc.option(fc.integer({ min: -7, max: 7 }), { nil: null, freq: 3 });
    const arbSpec = fc.tuple(
      fc.integer({ min: 0, max: 4 }),
      part,
      part,
      fc.option(fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0), { nil: null, freq: 3 }),
      fc.nat(),
    );
    const arb = fc.tuple(
      arbShape({ maxRank: 4, maxDim: 5, allowEmpty: true }),
      fc.array(arbSpec, { maxLength: 4 }),
      fc.nat(),
    );
    fc.sample(arb, { seed: 24, numRuns: 80 }).forEach(([shape, raw, l], n) => {
      const x = makeTensor(shape, pick(DTYPES, n), n, pick(LAYOUTS, l));
      inputs.push(x);
      const specs: SliceArg[] = [], py: string[] = [];
      raw.slice(0, shape.length).forEach(([kind, start, stop, step, k], a) => {
        const s = (v: number | null) => (v === null ? "" : String(v));
        const none = (v: number | null) => (v === null ? "None" : String(v));
        if (kind === 0 && shape[a] > 0) {
          const i = (k % (2 * shape[a])) - shape[a];
          specs.push(i);
          py.push(String(i));
        } else if (kind === 1) {
          specs.push(null);
          py.push(":");
        } else if (kind === 2) {
          specs.push(`${s(start)}:${s(stop)}${step === null ? "" : `:${step}`}`);
          py.push(`${s(start)}:${s(stop)}${step === null ? "" : `:${step}`}`);
        } else {
          specs.push({ start, stop, step });
          py.push(`slice(${none(start)}, ${none(stop)}, ${none(step)})`);
        }
      });
      cases.push({
        ours: x.slice(...specs),
        ref: { expr: `x[${py.length ? py.join(", ") + "," : "()"}]`, arrays: { x } },
        label: `slice ${JSON.stringify(shape)} [${py.join(", ")}]`,
        dtype: x.dtype !== "bf16",
        viewOf: x,
      });
    });
    await check(cases, inputs);
  });

  await t.step("select, flip and contiguous", async () => {
    const cases: Case[] = [], inputs: Tensor[] = [];
    for (const { x, shape, n, dt } of inputsFor(25, 40, { minRank: 1 })) {
      inputs.push(x);
      const r = shape.length;
      const a = (n % (2 * r)) - r, len = shape[(a + r) % r];
      const i = (n % (2 * len)) - len;
      const faxes = n % 3 === 0 ? undefined : n % 3 === 1 ? a : [...new Set([0, r - 1])];
      const c = x.contiguous();
      cases.push(
        {
          ours: x.select(a, i),
          ref: { expr: `np.take(x, ${i}, axis=${a})`, arrays: { x } },
          label: `select axis ${a} index ${i} of ${JSON.stringify(shape)}`,
          dtype: dt,
          viewOf: x,
        },
        {
          ours: n % 2 ? flip(x, faxes) : x.flip(faxes),
          ref: {
            expr: `np.flip(x, ${faxes === undefined ? "None" : JSON.stringify(faxes)})`,
            arrays: { x },
          },
          label: `flip ${JSON.stringify(faxes)} of ${JSON.stringify(shape)}`,
          dtype: dt,
          viewOf: x,
        },
        {
          ours: c,
          ref: { expr: "np.ascontiguousarray(x)", arrays: { x } },
          label: "contiguous",
          dtype: dt,
          viewOf: x.isContiguous ? x : undefined,
        },
      );
      assert.ok(c.isContiguous);
      if (!x.isContiguous) assert.notEqual(c.storage, x.storage, "contiguous copies");
    }
    await check(cases, inputs);
  });

  await t.step(
    "astype between every pair of dtypes matches numpy for in-range values",
    async () => {
      const cases: Case[] = [], inputs: Tensor[] = [];
      let n = 0;
      for (const from of DTYPES) {
        for (const to of DTYPES) {
          n++;
          const unsigned = [from, to].some((d) => d.startsWith("u") || d === "bool");
          const bool = from === "bool";
          const x = makeTensor([3, 5], from, n, pick(LAYOUTS, n), {
            lo: bool ? 0 : unsigned ? 0 : -50,
            hi: bool ? 1 : 100,
          });
          inputs.push(x);
          // NumPy has no bf16: its side casts to float32, ours rounds to bf16 (compare loosely).
          const npTo = to === "bf16" ? "np.float32" : `"${npName(to)}"`;
          cases.push({
            ours: x.astype(to),
            ref: { expr: `x.astype(${npTo})`, arrays: { x } },
            label: `astype ${from} → ${to}`,
            dtype: to !== "bf16",
          });
        }
      }
      await check(cases, inputs);
    },
  );

  await t.step("no tensor leaks", () => {
    assert.equal(memory().tensors, before);
  });
});

Deno.test("view ops reject bad input with typed errors", async (t) => {
  const x = arange(12).reshape([3, 4]);
  await t.step("reshape size mismatch is a ShapeError with a hint", () => {
    assert.throws(
      () => x.reshape([5, 3]),
      (e: Error) => e instanceof ShapeError && /-1/.test(e.message) && /\(3, 4\)/.test(e.message),
    );
    assert.throws(() => x.reshape([-1, -1]), ShapeError);
    assert.throws(() => x.reshape([5, -1]), ShapeError);
  });
  await t.step("bad axes are IndexErrors", () => {
    assert.throws(() => x.transpose([0, 2]), IndexError);
    assert.throws(() => x.transpose([0, 0]), IndexError);
    assert.throws(() => x.permute([0]), ShapeError);
    assert.throws(() => x.swapaxes(0, 2), IndexError);
    assert.throws(() => x.unsqueeze(3), IndexError);
    assert.throws(() => x.flatten(1, 0), IndexError);
    assert.throws(() => x.flip(2), IndexError);
    assert.throws(() => x.squeeze(0), ShapeError);
  });
  await t.step("indices out of range are IndexErrors; slices clamp", () => {
    assert.throws(
      () => x.select(0, 3),
      (e: Error) => e instanceof IndexError && /length 3/.test(e.message),
    );
    assert.throws(() => x.slice(null, -5), IndexError);
    assert.throws(() => x.slice(0, 0, 0), IndexError);
    assert.throws(() => x.slice("::0"), IndexError);
    assert.throws(() => x.slice("1:2:3:4"), IndexError);
    const c = x.slice("-100:100", "5:");
    assert.deepEqual(c.shape, [3, 0]);
    c.dispose();
  });
  await t.step("broadcasting to an incompatible shape is a ShapeError", () => {
    assert.throws(() => x.broadcastTo([3, 5]), ShapeError);
    assert.throws(() => x.expand([4]), ShapeError);
  });
  await t.step("ragged nested arrays given to tensor() are ShapeErrors", () => {
    assert.throws(
      () => tensor([[1, 2], [3]]),
      (e: Error) => e instanceof ShapeError && /ragged/.test(e.message),
    );
    assert.throws(() => tensor([[1, 2], 3] as never), ShapeError);
    assert.throws(() => tensor([1, [2]] as never), ShapeError);
  });
  await t.step("astype to an unknown dtype is a DTypeError", () => {
    assert.throws(() => x.astype("float32" as DType), DTypeError);
  });
  x.dispose();
});
