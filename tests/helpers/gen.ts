/**
 * Random test inputs: seeded values for every dtype, tensors in several memory layouts
 * (contiguous, transposed, step-sliced, broadcast-expanded) with the same logical values, and
 * fast-check arbitraries for shapes and broadcast-compatible shape pairs.
 */
import fc from "fast-check";
import { type DType, type Tensor, tensor } from "../../mod.ts";

/** A small seeded PRNG (mulberry32) for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link randomValues}. */
export interface ValueOptions {
  /** Lower bound (floats default -3, ints default a range that fits the dtype, at most -50). */
  lo?: number;
  /** Upper bound. */
  hi?: number;
}

const INT_RANGE: Record<string, [number, number]> = {
  i8: [-50, 50],
  u8: [0, 100],
  i16: [-300, 300],
  u16: [0, 600],
  i32: [-1000, 1000],
  u32: [0, 2000],
  i64: [-1000, 1000],
  bool: [0, 1],
};

/** `n` random values suitable for `dtype`. */
export function randomValues(
  n: number,
  dtype: DType,
  seed: number,
  opts: ValueOptions = {},
): number[] {
  const r = rng(seed);
  const out = new Array<number>(n);
  if (dtype in INT_RANGE) {
    const [dlo, dhi] = INT_RANGE[dtype];
    const lo = opts.lo ?? dlo, hi = opts.hi ?? dhi;
    for (let i = 0; i < n; i++) out[i] = Math.floor(lo + r() * (hi - lo + 1));
  } else {
    const lo = opts.lo ?? -3, hi = opts.hi ?? 3;
    for (let i = 0; i < n; i++) out[i] = lo + r() * (hi - lo);
  }
  return out;
}

/** Memory layouts a test tensor can have while holding the same logical values. */
export type Layout = "contiguous" | "transposed" | "strided" | "expanded";

/** All layouts. */
export const LAYOUTS: readonly Layout[] = ["contiguous", "transposed", "strided", "expanded"];

/**
 * A tensor of `shape`/`dtype` with seeded random values, laid out as `layout`:
 * - transposed: a contiguous tensor of the reversed shape, viewed through `.T`;
 * - strided: every other element of a tensor twice as long on each axis (`slice("::2", ...)`);
 * - expanded: broadcast from a tensor with length 1 on the first axis longer than 1 (values repeat).
 */
export function makeTensor(
  shape: readonly number[],
  dtype: DType,
  seed: number,
  layout: Layout = "contiguous",
  opts: ValueOptions = {},
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  switch (layout) {
    case "contiguous":
      return tensor(new Float64Array(randomValues(size, dtype, seed, opts)), { dtype, shape });
    case "transposed": {
      const rev = [...shape].reverse();
      const base = tensor(new Float64Array(randomValues(size, dtype, seed, opts)), {
        dtype,
        shape: rev,
      });
      const v = base.T;
      base.dispose();
      return v;
    }
    case "strided": {
      const big = shape.map((d) => 2 * d);
      const n = big.reduce((a, b) => a * b, 1);
      const base = tensor(new Float64Array(randomValues(n, dtype, seed, opts)), {
        dtype,
        shape: big,
      });
      const v = base.slice(...shape.map(() => "::2"));
      base.dispose();
      return v;
    }
    case "expanded": {
      const ax = shape.findIndex((d) => d > 1);
      if (ax < 0) return makeTensor(shape, dtype, seed, "contiguous", opts);
      const small = shape.map((d, i) => (i === ax ? 1 : d));
      const base = makeTensor(small, dtype, seed, "contiguous", opts);
      const v = base.expand(shape);
      base.dispose();
      return v;
    }
  }
}

/** A shape of rank `minRank..maxRank` with lengths `0..maxDim` (0 only if `allowEmpty`). */
export function arbShape(
  { minRank = 0, maxRank = 4, maxDim = 5, allowEmpty = false } = {},
): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: allowEmpty ? 0 : 1, max: maxDim }), {
    minLength: minRank,
    maxLength: maxRank,
  });
}

/**
 * Two shapes that broadcast together (rank ≤ maxRank): a full shape, and a second made from it by
 * dropping some leading axes and setting some lengths to 1; randomly swapped.
 */
export function arbBroadcastPair(
  { maxRank = 4, maxDim = 5 } = {},
): fc.Arbitrary<[number[], number[]]> {
  return fc.tuple(
    arbShape({ maxRank, maxDim }),
    fc.nat(),
    fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
    fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
    fc.boolean(),
  ).map(([full, drop, ones, ones2, swap]) => {
    const other = full.slice(drop % (full.length + 1)).map((d, i) => (ones[i] ? 1 : d));
    const first = full.map((d, i) => (ones2[i] && !ones[i] ? 1 : d));
    return swap ? [other, first] : [first, other];
  });
}

/** fast-check settings used across the suite: reproducible, bounded. */
export const FC_PARAMS: fc.Parameters<unknown> = { seed: 42, numRuns: 40 };
