import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_DTYPES,
  arange,
  chunk,
  concat,
  IndexError,
  memory,
  pad,
  type PadMode,
  repeat,
  roll,
  ShapeError,
  split,
  stack,
  type Tensor,
  tensor,
  tile,
} from "../../mod.ts";
import { assertMatches, needsNumpy, numpy, NUMPY_DTYPES, type RefCase } from "../helpers/numpy.ts";
import { arbShape, LAYOUTS, makeTensor } from "../helpers/gen.ts";

const DTYPES = ALL_DTYPES;
/** Without bf16: NumPy has no bf16, so its promotions cannot be compared. */
const NP_DTYPES = NUMPY_DTYPES;

interface Case {
  ours: Tensor | Tensor[];
  ref: RefCase;
  label: string;
  /** bf16 results come back from NumPy as f32: compare values only. */
  dtype?: boolean;
}

/** Evaluate every case's reference in one NumPy call and compare; dispose everything. */
async function check(cases: Case[], inputs: Tensor[]): Promise<void> {
  const refs = await numpy(cases.map((c) => c.ref));
  cases.forEach((c, i) => {
    const r = refs[i];
    assert.equal(r.error, undefined, `${c.label}: numpy raised ${r.error}`);
    const ours = Array.isArray(c.ours) ? c.ours : [c.ours];
    assert.equal(ours.length, r.results.length, `${c.label}: number of results`);
    ours.forEach((t, k) =>
      assertMatches(t, r.results[k], { dtype: c.dtype ?? true }, `${c.label} [${k}]`)
    );
  });
  for (const c of cases) for (const t of [c.ours].flat()) t.dispose();
  for (const t of inputs) t.dispose();
}

const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length];

Deno.test("join ops match numpy", { ...needsNumpy }, async (t) => {
  const before = memory().tensors;

  await t.step("concat promotes mixed dtypes and joins any layout along any axis", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }),
      fc.nat(),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.nat()), {
        minLength: 1,
        maxLength: 4,
      }),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 1, numRuns: 60 }).forEach(([shape, ax, parts], n) => {
      const axis = (ax % (2 * shape.length)) - shape.length;
      const a = (axis + shape.length) % shape.length;
      const ts = parts.map(([len, d, l], i) => {
        const s = [...shape];
        s[a] = len;
        return makeTensor(s, pick(NP_DTYPES, d + n), n * 10 + i, pick(LAYOUTS, l));
      });
      inputs.push(...ts);
      const names = ts.map((_, i) => `a${i}`);
      cases.push({
        ours: concat(ts, axis),
        ref: {
          expr: `np.concatenate([${names.join(", ")}], axis=${axis})`,
          arrays: Object.fromEntries(ts.map((x, i) => [names[i], x])),
        },
        label: `concat ${ts.map((x) => `${x.dtype}${JSON.stringify(x.shape)}`)} axis ${axis}`,
      });
    });
    // bf16 with itself keeps bf16 (values compared against NumPy's float32).
    const b = [makeTensor([2, 3], "bf16", 7, "transposed"), makeTensor([1, 3], "bf16", 8)];
    inputs.push(...b);
    cases.push({
      ours: concat(b),
      ref: { expr: "np.concatenate([a, b])", arrays: { a: b[0], b: b[1] } },
      label: "concat bf16",
      dtype: false,
    });
    await check(cases, inputs);
  });

  await t.step("concat of JS arrays works and the result dtype is bf16 for bf16 inputs", () => {
    const c = concat([[1, 2], [3]]);
    assert.deepEqual(c.toArraySync(), [1, 2, 3]);
    const b = concat([tensor([1], { dtype: "bf16" }), tensor([2], { dtype: "i8" })]);
    assert.equal(b.dtype, "bf16");
    c.dispose();
    b.dispose();
  });

  await t.step("stack inserts a new axis at any position (negative too)", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 0, maxRank: 3, maxDim: 4 }),
      fc.nat(),
      fc.integer({ min: 1, max: 3 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 2, numRuns: 40 }).forEach(([shape, ax, k, d], n) => {
      const r = shape.length + 1;
      const axis = (ax % (2 * r)) - r;
      const ts = Array.from(
        { length: k },
        (_, i) => makeTensor(shape, pick(NP_DTYPES, d + i), n * 5 + i, pick(LAYOUTS, n + i)),
      );
      inputs.push(...ts);
      cases.push({
        ours: stack(ts, axis),
        ref: {
          expr: `np.stack([${ts.map((_, i) => `a${i}`)}], axis=${axis})`,
          arrays: Object.fromEntries(ts.map((x, i) => [`a${i}`, x])),
        },
        label: `stack ${JSON.stringify(shape)} x${k} axis ${axis}`,
      });
    });
    await check(cases, inputs);
  });

  await t.step("split by sections and by points gives zero-copy views like np.split", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 3, maxDim: 6 }),
      fc.nat(),
      fc.boolean(),
      fc.array(fc.integer({ min: -8, max: 8 }), { maxLength: 4 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 3, numRuns: 50 }).forEach(([shape, ax, bySections, pts, l], n) => {
      const axis = ax % shape.length;
      const x = makeTensor(shape, pick(DTYPES, n), n, pick(LAYOUTS, l));
      inputs.push(x);
      const len = shape[axis];
      const divisors = [...Array(len).keys()].map((i) => i + 1).filter((k) => len % k === 0);
      const arg = bySections ? pick(divisors, l) : pts;
      const parts = split(x, arg, axis);
      for (const p of parts) assert.equal(p.storage, x.storage, "split returns views");
      cases.push({
        ours: parts,
        ref: {
          expr: `np.split(x, ${JSON.stringify(arg)}, axis=${axis})`,
          arrays: { x },
        },
        label: `split ${JSON.stringify(shape)} by ${JSON.stringify(arg)} axis ${axis}`,
        dtype: x.dtype !== "bf16",
      });
    });
    await check(cases, inputs);
  });

  await t.step("chunk gives ceil(n/chunks)-long views, possibly fewer pieces", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 3, maxDim: 7, allowEmpty: true }),
      fc.nat(),
      fc.integer({ min: 1, max: 8 }),
    );
    const setup = "def chunk(x, c, ax):\n" +
      "    n = x.shape[ax]\n" +
      "    s = -(-n // c)\n" +
      "    return [x] if n == 0 else np.split(x, list(range(s, n, s)), axis=ax)\n";
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 4, numRuns: 40 }).forEach(([shape, ax, c], n) => {
      const axis = ax % shape.length;
      const x = makeTensor(shape, pick(NP_DTYPES, n), n, pick(LAYOUTS, n));
      inputs.push(x);
      const parts = chunk(x, c, axis);
      for (const p of parts) assert.equal(p.storage, x.storage, "chunk returns views");
      cases.push({
        ours: parts,
        ref: { expr: `chunk(x, ${c}, ${axis})`, arrays: { x }, setup },
        label: `chunk ${JSON.stringify(shape)} into ${c} on axis ${axis}`,
      });
    });
    await check(cases, inputs);
    const pieces = chunk(arange(5), 3);
    assert.deepEqual(pieces.map((p) => p.shape[0]), [2, 2, 1]);
    const six = chunk(arange(6), 4);
    assert.deepEqual(six.map((p) => p.shape[0]), [2, 2, 2], "fewer pieces than asked");
    [...pieces, ...six].forEach((p) => p.dispose());
  });

  await t.step("pad supports every np.pad width form and mode", async () => {
    const modes: PadMode[] = ["constant", "edge", "reflect", "symmetric", "wrap"];
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })), {
        minLength: 3,
        maxLength: 3,
      }),
      fc.integer({ min: 0, max: 3 }),
      fc.nat(),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 5, numRuns: 80 }).forEach(([shape, pairs, form, m, l], n) => {
      const mode = pick(modes, m);
      const dtype = pick(DTYPES, n);
      const x = makeTensor(shape, dtype, n, pick(LAYOUTS, l));
      inputs.push(x);
      const width = form === 0
        ? pairs[0][0]
        : form === 1
        ? [pairs[0][0], pairs[0][1]]
        : form === 2
        ? [pairs[0]]
        : pairs.slice(0, shape.length);
      const value = dtype === "bool" ? 1 : n % 7;
      const extra = mode === "constant" ? `, constant_values=${value}` : "";
      cases.push({
        ours: pad(x, width, mode === "constant" ? { value } : { mode }),
        ref: {
          expr: `np.pad(x, ${JSON.stringify(width)}, mode="${mode}"${extra})`,
          arrays: { x },
        },
        label: `pad ${dtype}${JSON.stringify(shape)} ${JSON.stringify(width)} ${mode}`,
        dtype: dtype !== "bf16",
      });
    });
    await check(cases, inputs);
  });

  await t.step("tile matches np.tile for reps shorter and longer than the rank", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 0, maxRank: 3, maxDim: 3 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 6, numRuns: 40 }).forEach(([shape, reps, l], n) => {
      const x = makeTensor(shape, pick(DTYPES, n + 3), n, pick(LAYOUTS, l));
      inputs.push(x);
      cases.push({
        ours: tile(x, reps),
        ref: { expr: `np.tile(x, ${JSON.stringify(reps)})`, arrays: { x } },
        label: `tile ${JSON.stringify(shape)} by ${JSON.stringify(reps)}`,
        dtype: x.dtype !== "bf16",
      });
    });
    const x = makeTensor([2], "i32", 1);
    inputs.push(x);
    cases.push({
      ours: tile(x, 3),
      ref: { expr: "np.tile(x, 3)", arrays: { x } },
      label: "tile by a number",
    });
    await check(cases, inputs);
  });

  await t.step("repeat with one count or per-element counts, flattened or on an axis", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 0, maxRank: 3, maxDim: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.boolean(),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 64, maxLength: 64 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 7, numRuns: 50 }).forEach(([shape, ax, list, counts, l], n) => {
      const x = makeTensor(shape, pick(DTYPES, n + 5), n, pick(LAYOUTS, l));
      const axis = ax === undefined || shape.length === 0 ? undefined : ax % shape.length;
      const len = axis === undefined ? x.size : shape[axis];
      if (len > 64) return x.dispose();
      inputs.push(x);
      const reps = list ? counts.slice(0, len) : counts[0];
      cases.push({
        ours: repeat(x, reps, axis),
        ref: {
          expr: `np.repeat(x, ${JSON.stringify(reps)}${
            axis === undefined ? "" : `, axis=${axis}`
          })`,
          arrays: { x },
        },
        label: `repeat ${JSON.stringify(shape)} ${JSON.stringify(reps)} axis ${axis}`,
        dtype: x.dtype !== "bf16",
      });
    });
    await check(cases, inputs);
  });

  await t.step("roll by one or several shifts, on axes or flattened", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 4, maxDim: 4, allowEmpty: true }),
      fc.array(fc.integer({ min: -9, max: 9 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 8, numRuns: 60 }).forEach(([shape, shifts, axes, form, l], n) => {
      const x = makeTensor(shape, pick(DTYPES, n + 1), n, pick(LAYOUTS, l));
      inputs.push(x);
      const r = shape.length;
      let shift: number | number[] = shifts[0], axis: number | number[] | undefined;
      if (form === 1) axis = (axes[0] % (2 * r)) - r;
      if (form === 2) {
        const k = Math.min(shifts.length, axes.length);
        shift = shifts.slice(0, k);
        axis = axes.slice(0, k).map((a) => a % r);
      }
      cases.push({
        ours: roll(x, shift, axis),
        ref: {
          expr: `np.roll(x, ${JSON.stringify(shift)}${
            axis === undefined ? "" : `, axis=${JSON.stringify(axis)}`
          })`,
          arrays: { x },
        },
        label: `roll ${JSON.stringify(shape)} by ${JSON.stringify(shift)} axis ${axis}`,
        dtype: x.dtype !== "bf16",
      });
    });
    await check(cases, inputs);
  });

  await t.step("no tensor leaks", () => {
    assert.equal(memory().tensors, before);
  });
});

Deno.test("join ops reject bad input with typed errors", async (t) => {
  const a = tensor([[1, 2, 3]]), b = tensor([[1, 2]]);
  await t.step("concat of mismatched shapes names the input and the axis", () => {
    assert.throws(
      () => concat([a, b]),
      (e: Error) =>
        e instanceof ShapeError && /input 1/.test(e.message) && /axis 0/.test(e.message),
    );
    assert.throws(() => concat([a, tensor([1, 2, 3])]), ShapeError);
    assert.throws(() => concat([tensor(1), tensor(2)]), /stack/);
    assert.throws(() => concat([]), ShapeError);
  });
  await t.step("bad axes are IndexErrors", () => {
    assert.throws(() => concat([a, a], 2), IndexError);
    assert.throws(() => stack([a, a], 3), IndexError);
    assert.throws(() => split(a, 1, -3), IndexError);
    assert.throws(() => roll(a, 1, 5), IndexError);
  });
  await t.step("stack needs equal shapes", () => {
    assert.throws(
      () => stack([a, b]),
      (e: Error) => e instanceof ShapeError && /input 1/.test(e.message),
    );
  });
  await t.step("split into sections that do not divide hints at chunk", () => {
    assert.throws(
      () => split(arange(5), 2),
      (e: Error) => e instanceof ShapeError && /chunk/.test(e.message),
    );
    assert.throws(() => chunk(arange(5), 0), ShapeError);
  });
  await t.step("pad rejects negative widths, wrong pair counts, unknown modes, empty axes", () => {
    assert.throws(() => pad(a, -1), ShapeError);
    assert.throws(() => pad(a, [[1, 1], [1, 1], [1, 1]]), ShapeError);
    assert.throws(() => pad(a, 1, { mode: "mirror" as PadMode }), /unknown mode/);
    assert.throws(() => pad(tensor([]), 1, { mode: "edge" }), /empty axis/);
    const z = pad(tensor([]), 2);
    assert.deepEqual(z.toArraySync(), [0, 0, 0, 0]);
    z.dispose();
  });
  await t.step("repeat and roll check their counts", () => {
    assert.throws(() => repeat(a, [1, 2], 1), ShapeError);
    assert.throws(() => repeat(a, -1), ShapeError);
    assert.throws(() => roll(a, [1, 2, 3], [0, 1]), ShapeError);
    assert.throws(() => tile(a, [-1]), ShapeError);
  });
  a.dispose();
  b.dispose();
});
