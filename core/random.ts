/**
 * Seeded, counter-based random numbers (Philox4x32-10), identical on every backend.
 *
 * ## The generator
 *
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the
 * generator of cuRAND, JAX's `rbg` and PyTorch's CUDA backend) maps a 128-bit counter and a
 * 64-bit key to four 32-bit words. One round, on counter words `c0..c3` and key words `k0, k1`:
 *
 * ```text
 * (hi0, lo0) = mulhilo32(0xD2511F53, c0)    (hi1, lo1) = mulhilo32(0xCD9E8D57, c2)
 * (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
 * ```
 *
 * Ten rounds; between consecutive rounds the key gets the Weyl increments
 * `k0 += 0x9E3779B9, k1 += 0xBB67AE85` (mod 2^32). {@link philox4x32} exposes the bare function
 * (checked against the Random123 known-answer vectors in the tests).
 *
 * ## Which words make which element
 *
 * A generator has a 64-bit `seed` and a 64-bit draw counter `d` (0 for its first call, +1 for each
 * `rand`/`randn`/`randint` call). Element `i` (C order) of a draw is computed from ONE Philox block:
 *
 * ```text
 * key     = (seed mod 2^32, floor(seed / 2^32))
 * counter = (i mod 2^32, floor(i / 2^32), d mod 2^32, floor(d / 2^32))
 * (w0, w1, w2, w3) = philox4x32_10(counter, key)
 * ```
 *
 * so an element is a pure function of (seed, d, i) and a backend can compute any element in any
 * order (one GPU thread per element). The words become values as follows (all arithmetic exact):
 *
 * - `U53(a, b) = ((a >>> 5) · 2^26 + (b >>> 6)) · 2^-53`, a uniform double in [0, 1).
 * - `rand`: f64 `U53(w0, w1)`; f32 `(w0 >>> 8) · 2^-24`; f16 `(w0 >>> 21) · 2^-11`;
 *   bf16 `(w0 >>> 24) · 2^-8`. Each is exactly representable in its dtype, so the result is in
 *   [0, 1) (rounding never reaches 1) and every backend produces the same bits.
 * - `randn` (Box-Muller, cosine branch): `u1 = 1 - U53(w0, w1)` in (0, 1], `u2 = U53(w2, w3)`,
 *   `z = sqrt(-2 ln u1) · cos(2π u2)` computed in float64, then rounded to the dtype. The tails
 *   reach about 8.6σ. Bits match across backends up to the accuracy of their `log`/`cos`.
 * - `randint(low, high)`: with `r = high - low` and the 128-bit `X = w3·2^96 + w2·2^64 +
 *   w1·2^32 + w0`, the value is `low + floor(X · r / 2^128)` (Lemire's multiply-shift on 128
 *   bits). No rejection loop, so no data-dependent control flow; the bias is at most `r / 2^128`
 *   relative per value (below 2^-64 for every supported range), far below anything measurable.
 *
 * The global generator starts with seed 0 (deterministic, like PyTorch's default generator);
 * {@link seed} reseeds it and resets its draw counter. A call's `{ seed }` option uses a fresh
 * generator with that seed (draw counter 0) and leaves the global stream untouched. Arguments
 * are checked before the counter moves, so a call that throws consumes no draw.
 *
 * Generation runs on the host and the result is uploaded to `device`; a device backend may
 * generate in place by implementing the mapping above.
 *
 * @module
 */
import { ALL_DTYPES, type DType, DTYPES, isDType, isFloat, toBF16Bits } from "./dtype.ts";
import { DTypeError, IndexError } from "./errors.ts";
import { deviceProvider } from "./backend/registry.ts";
import { fromTyped } from "./ops/creation.ts";
import { hostArray } from "./memory.ts";
import { checkShape, sizeOf } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO32 = 4294967296;

/** High 32 bits of the 64-bit product of two uint32s, exactly, in doubles (no BigInt). */
function mulhi(a: number, b: number): number {
  // a·b = ah·b·2^16 + al·b with both partial products < 2^48 (exact in a double).
  const al = a & 0xffff, ah = a >>> 16;
  return ((ah * b + Math.floor((al * b) / 65536)) / 65536) >>> 0;
}

/** One Philox4x32-10 block into `out[0..3]`. */
function block(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  rounds = 10,
): void {
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * The Philox4x32 block function: four 32-bit output words from a counter of four 32-bit words
 * and a key of two (10 rounds unless `rounds` says otherwise). Exposed so that other backends can
 * check their implementation against this one.
 *
 * @param counter four uint32 words
 * @param key two uint32 words
 * @param rounds number of rounds (10 for Philox4x32-10)
 * @returns the four output words
 *
 * @example
 * ```ts
 * import { philox4x32 } from "@aprender/compute";
 * const w = philox4x32([0, 0, 0, 0], [0, 0]);
 * console.log([...w].map((x) => x.toString(16))); // ["6627e8d5", "e169c58d", "bc57ac4c", "9b00dbd8"]
 * ```
 */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  rounds = 10,
): Uint32Array {
  if (counter.length !== 4 || key.length !== 2) {
    throw new DTypeError(
      `philox4x32: expected a counter of 4 words and a key of 2 words, got ${counter.length} and ` +
        `${key.length}.`,
    );
  }
  const out = new Uint32Array(4);
  block(
    counter[0] >>> 0,
    counter[1] >>> 0,
    counter[2] >>> 0,
    counter[3] >>> 0,
    key[0] >>> 0,
    key[1] >>> 0,
    out,
    rounds,
  );
  return out;
}

/** A seed: an integer number (safe integers; negatives wrap to 64 bits) or a bigint. */
export type Seed = number | bigint;

function seedBits(s: Seed, op: string): bigint {
  if (typeof s === "bigint") return BigInt.asUintN(64, s);
  if (typeof s !== "number" || !Number.isSafeInteger(s)) {
    throw new DTypeError(
      `${op}: seed must be a safe integer or a bigint, got ${String(s)}. ` +
        `Hint: use Math.floor(x) or a bigint for 64-bit seeds.`,
    );
  }
  return BigInt.asUintN(64, BigInt(s));
}

/** Options of {@link Generator} draws. */
export interface DrawOptions {
  /** Element type (rand/randn: a float dtype, default f32; randint: an int dtype, default i32). */
  dtype?: DType;
  /** Device to create the tensor on (default "cpu"). */
  device?: string;
}

/** Options of the global {@link rand}, {@link randn} and {@link randint}. */
export interface RandomOptions extends DrawOptions {
  /** Draw from a fresh generator with this seed instead of the global stream. */
  seed?: Seed;
}

/** The value range of an integer (or bool) dtype, from the dtype table; null for floats. */
function intLimits(d: DType): [bigint, bigint] | null {
  if (d === "bool") return [0n, 1n];
  const l = isDType(d) ? DTYPES[d].limits : null;
  return l && [l.min, l.max];
}

function toBig(x: number | bigint, what: string, op: string): bigint {
  if (typeof x === "bigint") return x;
  if (typeof x !== "number" || !Number.isSafeInteger(x)) {
    throw new DTypeError(
      `${op}: ${what} must be an integer (a safe integer number or a bigint), got ${String(x)}.`,
    );
  }
  return BigInt(x);
}

/**
 * An explicit random stream: a seed plus a draw counter. Each draw uses the next counter value,
 * so the same seed gives the same sequence of tensors. See the module documentation for the
 * exact mapping from (seed, draw, element index) to values.
 *
 * @example
 * ```ts
 * import { Generator } from "@aprender/compute";
 * const g = new Generator(42);
 * const a = g.rand([2, 3]);
 * const b = g.randn([4], { dtype: "f64" });
 * const c = g.randint(0, 10, [5]);
 * console.log(a.shape, b.dtype, c.dtype); // [2, 3] "f64" "i32"
 * console.log(new Generator(42).rand([2, 3]).toArraySync()); // same values as a
 * ```
 */
export class Generator {
  /** The 64-bit seed (the Philox key). */
  readonly seed: bigint;
  #k0: number;
  #k1: number;
  #draw = 0;

  /**
   * A stream with this seed, starting at draw 0.
   *
   * @param seed an integer (safe-integer number or bigint; reduced modulo 2^64)
   */
  constructor(seed: Seed = 0) {
    this.seed = seedBits(seed, "Generator");
    this.#k0 = Number(this.seed & 0xffffffffn);
    this.#k1 = Number(this.seed >> 32n);
  }

  /** How many draws this generator has made (the next draw's counter value). */
  get draws(): number {
    return this.#draw;
  }

  /** Fill `n` elements of draw `d`: `fn(i, w0..w3 in words)` for each element index. */
  #each(n: number, fn: (i: number, w: Uint32Array) => void): void {
    const d = this.#draw++;
    const dLo = d >>> 0, dHi = Math.floor(d / TWO32) >>> 0;
    const w = new Uint32Array(4);
    const k0 = this.#k0, k1 = this.#k1;
    for (let i = 0; i < n; i++) {
      block(i >>> 0, Math.floor(i / TWO32) >>> 0, dLo, dHi, k0, k1, w);
      fn(i, w);
    }
  }

  /**
   * Uniform values in [0, 1).
   *
   * @example
   * ```ts
   * import { Generator } from "@aprender/compute";
   * const u = new Generator(0).rand([3], { dtype: "f64" });
   * console.log(u.shape, u.dtype); // [3] "f64"
   * ```
   */
  rand(shape: readonly number[], options: DrawOptions = {}): Tensor {
    const dtype = floatDType(options.dtype, "rand");
    const s = checkShape(shape, "rand");
    deviceProvider(options.device ?? "cpu");
    const n = sizeOf(s);
    const out = hostArray("rand", s, dtype);
    switch (dtype) {
      case "f64": {
        const a = out as Float64Array;
        this.#each(n, (i, w) => (a[i] = u53(w[0], w[1])));
        break;
      }
      case "f32": {
        const a = out as Float32Array;
        this.#each(n, (i, w) => (a[i] = (w[0] >>> 8) * 2 ** -24));
        break;
      }
      case "f16": {
        const a = out as Float16Array;
        this.#each(n, (i, w) => (a[i] = (w[0] >>> 21) * 2 ** -11));
        break;
      }
      default: {
        const a = out as Uint16Array;
        this.#each(n, (i, w) => (a[i] = toBF16Bits((w[0] >>> 24) * 2 ** -8)));
      }
    }
    return fromTyped(out, s, dtype, options.device);
  }

  /**
   * Standard normal values (mean 0, variance 1), by Box-Muller.
   *
   * @example
   * ```ts
   * import { Generator } from "@aprender/compute";
   * const z = new Generator(7).randn([1000]);
   * console.log(Math.abs(z.mean().item() as number) < 0.2); // true
   * ```
   */
  randn(shape: readonly number[], options: DrawOptions = {}): Tensor {
    const dtype = floatDType(options.dtype, "randn");
    const s = checkShape(shape, "randn");
    deviceProvider(options.device ?? "cpu");
    const n = sizeOf(s);
    const out = hostArray("randn", s, dtype);
    const normal = (w: Uint32Array): number => {
      const u1 = 1 - u53(w[0], w[1]);
      const u2 = u53(w[2], w[3]);
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    };
    if (dtype === "bf16") {
      const a = out as Uint16Array;
      this.#each(n, (i, w) => (a[i] = toBF16Bits(normal(w))));
    } else {
      const a = out as Float64Array; // f64, f32 or f16 storage: assignment rounds
      this.#each(n, (i, w) => (a[i] = normal(w)));
    }
    return fromTyped(out, s, dtype, options.device);
  }

  /**
   * Uniform integers in [low, high) (both integers; bigints allowed for i64 ranges beyond 2^53).
   * The dtype (default i32) must hold every value of the range.
   *
   * @example
   * ```ts
   * import { Generator } from "@aprender/compute";
   * const k = new Generator(1).randint(-3, 3, [2, 2], { dtype: "i8" });
   * console.log(k.dtype, k.shape); // "i8" [2, 2]
   * ```
   */
  randint(
    low: number | bigint,
    high: number | bigint,
    shape: readonly number[],
    options: DrawOptions = {},
  ): Tensor {
    const op = "randint";
    const dtype = options.dtype ?? "i32";
    const limits = intLimits(dtype);
    if (!limits) {
      throw new DTypeError(
        `${op}: dtype ${JSON.stringify(dtype)} is not an integer dtype. Expected one of ` +
          `${ALL_DTYPES.filter(intLimits).join(", ")}. Hint: use rand() for floats.`,
      );
    }
    const lo = toBig(low, "low", op), hi = toBig(high, "high", op);
    if (lo >= hi) {
      throw new IndexError(
        `${op}: the range [${lo}, ${hi}) is empty; low must be less than high.`,
      );
    }
    const [min, max] = limits;
    if (lo < min || hi - 1n > max) {
      throw new DTypeError(
        `${op}: the range [${lo}, ${hi}) does not fit dtype ${dtype} (values ${min}..${max}). ` +
          `Hint: pass a wider dtype, e.g. { dtype: "i64" }.`,
      );
    }
    const s = checkShape(shape, op);
    deviceProvider(options.device ?? "cpu");
    const n = sizeOf(s);
    const out = hostArray(op, s, dtype);
    const r = hi - lo;
    if (r <= 0xffffffffn) {
      const rn = Number(r);
      const base = Number(lo); // exact: lo fits the dtype, and i64 is handled below
      const top = (w: Uint32Array): number => {
        // floor(X·r / 2^128): multiply the 4 limbs of X by r, keep the carry out of the top.
        let carry = 0;
        for (let k = 0; k < 4; k++) {
          const s = (Math.imul(w[k], rn) >>> 0) + carry;
          carry = mulhi(w[k], rn) + (s >= TWO32 ? 1 : 0);
        }
        return carry;
      };
      if (dtype === "i64") {
        const a = out as BigInt64Array;
        this.#each(n, (i, w) => (a[i] = lo + BigInt(top(w))));
      } else {
        const a = out as Int32Array;
        this.#each(n, (i, w) => (a[i] = base + top(w)));
      }
    } else if (r === TWO32_BIG) {
      // floor(X·2^32 / 2^128) is the top word.
      if (dtype === "i64") {
        const a = out as BigInt64Array;
        this.#each(n, (i, w) => (a[i] = lo + BigInt(w[3])));
      } else {
        const a = out as Uint32Array; // only u32 [0, 2^32) gets here
        this.#each(n, (i, w) => (a[i] = w[3]));
      }
    } else {
      const a = out as BigInt64Array; // only i64 ranges are wider than 2^32
      this.#each(n, (i, w) => {
        const x = (BigInt(w[3]) << 96n) | (BigInt(w[2]) << 64n) | (BigInt(w[1]) << 32n) |
          BigInt(w[0]);
        a[i] = lo + ((x * r) >> 128n);
      });
    }
    return fromTyped(out, s, dtype, options.device);
  }
}

const TWO32_BIG = 4294967296n;

function u53(a: number, b: number): number {
  return ((a >>> 5) * 67108864 + (b >>> 6)) * 2 ** -53;
}

function floatDType(d: DType | undefined, op: string): DType {
  const dtype = d ?? "f32";
  if (!Object.hasOwn(DTYPES, dtype) || !isFloat(dtype)) {
    throw new DTypeError(
      `${op}: dtype ${JSON.stringify(dtype)} is not a float dtype; expected f32, f64, f16 or ` +
        `bf16. Hint: use randint() for integers.`,
    );
  }
  return dtype;
}

let global = new Generator(0);

function source(options: RandomOptions): Generator {
  return options.seed === undefined ? global : new Generator(options.seed);
}

/**
 * Reseed the global generator and reset its draw counter: the draws that follow are the same
 * every time the program runs with this seed.
 *
 * @param n the seed (safe integer or bigint)
 *
 * @example
 * ```ts
 * import { rand, seed } from "@aprender/compute";
 * seed(123);
 * const a = rand([3]).toArraySync();
 * seed(123);
 * console.log(rand([3]).toArraySync()); // the same values as a
 * ```
 */
export function seed(n: Seed): void {
  global = new Generator(n);
}

/**
 * Uniform random values in [0, 1) from the global generator (or `options.seed`).
 *
 * @example
 * ```ts
 * import { rand } from "@aprender/compute";
 * const u = rand([2, 2], { seed: 0 });
 * console.log(u.shape, u.dtype); // [2, 2] "f32"
 * ```
 */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return source(options).rand(shape, options);
}

/**
 * Standard normal random values from the global generator (or `options.seed`).
 *
 * @example
 * ```ts
 * import { randn } from "@aprender/compute";
 * const z = randn([3], { dtype: "f64", seed: 1 });
 * console.log(z.dtype); // "f64"
 * ```
 */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return source(options).randn(shape, options);
}

/**
 * Uniform random integers in [low, high) from the global generator (or `options.seed`).
 * The dtype (default i32) must hold the whole range, else a DTypeError.
 *
 * @example
 * ```ts
 * import { randint } from "@aprender/compute";
 * const dice = randint(1, 7, [10], { seed: 3 });
 * console.log(dice.dtype, dice.shape); // "i32" [10]
 * ```
 */
export function randint(
  low: number | bigint,
  high: number | bigint,
  shape: readonly number[],
  options: RandomOptions = {},
): Tensor {
  return source(options).randint(low, high, shape, options);
}
