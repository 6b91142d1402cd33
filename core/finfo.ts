/**
 * Machine limits of the dtypes, like NumPy's `np.finfo` / `np.iinfo`: derived from the float
 * layout and integer limits in the dtype table (core/dtype.ts), the single source.
 *
 * @module
 */
import {
  castNumber,
  type DType,
  type DTypeInfo,
  elementInfo,
  type FloatLayout,
  type StorageDType,
} from "./dtype.ts";
import { DTypeError } from "./errors.ts";

/** Machine limits of a float dtype, as NumPy's `np.finfo` names them (camelCase). */
export interface FInfo {
  /** The dtype. */
  readonly dtype: DType;
  /** Bits of storage. */
  readonly bits: number;
  /** Difference between 1 and the next larger representable number (2^-nmant). */
  readonly eps: number;
  /** Difference between 1 and the next smaller representable number (2^-(nmant+1)). */
  readonly epsneg: number;
  /** Largest finite value. */
  readonly max: number;
  /** Most negative finite value (-max). */
  readonly min: number;
  /** Smallest positive normal number (NumPy's `tiny`, same as `smallestNormal`). */
  readonly tiny: number;
  /** Smallest positive normal number. */
  readonly smallestNormal: number;
  /** Smallest positive subnormal number. */
  readonly smallestSubnormal: number;
  /** Decimal digits of precision: floor(nmant · log10 2). */
  readonly precision: number;
  /** 10^-precision, rounded to the dtype. */
  readonly resolution: number;
  /** Exponent bits. */
  readonly nexp: number;
  /** Mantissa bits (without the implicit leading one). */
  readonly nmant: number;
  /** Smallest power of 2 that overflows. */
  readonly maxexp: number;
  /** Exponent of the smallest normal number. */
  readonly minexp: number;
  /** Exponent of eps (-nmant). */
  readonly machep: number;
  /** Exponent of epsneg (-(nmant+1)). */
  readonly negep: number;
}

function makeFinfo(r: DTypeInfo, f: FloatLayout): FInfo {
  const m = f.mantissaBits, bias = 2 ** (f.exponentBits - 1) - 1;
  const precision = Math.floor(m * Math.log10(2));
  return Object.freeze({
    dtype: r.name,
    bits: r.bits,
    eps: 2 ** -m,
    epsneg: 2 ** -(m + 1),
    max: (2 - 2 ** -m) * 2 ** bias,
    min: -(2 - 2 ** -m) * 2 ** bias,
    tiny: 2 ** (1 - bias),
    smallestNormal: 2 ** (1 - bias),
    smallestSubnormal: 2 ** (1 - bias - m),
    precision,
    resolution: castNumber(10 ** -precision, r.name),
    nexp: f.exponentBits,
    nmant: m,
    maxexp: bias + 1,
    minexp: 1 - bias,
    machep: -m,
    negep: -(m + 1),
  });
}

let finfoCache: Map<DType, FInfo> | null = null;

/**
 * Machine limits of a float dtype (NumPy's `np.finfo`; bf16 as ml_dtypes'), derived from the
 * table's float layout. A DTypeError for non-float dtypes.
 *
 * @example
 * ```ts
 * import { finfo } from "@aprender/compute";
 * console.log(finfo("f32").eps, finfo("f16").max); // 1.1920928955078125e-7 65504
 * ```
 */
export function finfo(d: StorageDType): FInfo {
  const r = elementInfo(d, "finfo");
  if (r.float === null) {
    throw new DTypeError(
      `finfo: ${d} is not a float dtype. Hint: use iinfo() for integer dtypes.`,
    );
  }
  finfoCache ??= new Map();
  let f = finfoCache.get(r.name);
  if (!f) finfoCache.set(r.name, f = makeFinfo(r, r.float));
  return f;
}

/** Limits of an integer dtype, as NumPy's `np.iinfo` (exact bigints, since i64's do not fit a number). */
export interface IInfo {
  /** The dtype. */
  readonly dtype: DType;
  /** Bits of storage. */
  readonly bits: number;
  /** Smallest value. */
  readonly min: bigint;
  /** Largest value. */
  readonly max: bigint;
}

/**
 * Limits of an integer dtype (NumPy's `np.iinfo`), from the table. A DTypeError for floats and
 * bool (as NumPy).
 *
 * @example
 * ```ts
 * import { iinfo } from "@aprender/compute";
 * console.log(iinfo("i16").min, iinfo("u32").max); // -32768n 4294967295n
 * ```
 */
export function iinfo(d: StorageDType): IInfo {
  const r = elementInfo(d, "iinfo");
  if (r.limits === null) {
    throw new DTypeError(
      `iinfo: ${d} is not an integer dtype. Hint: use finfo() for float dtypes.`,
    );
  }
  return { dtype: r.name, bits: r.bits, min: r.limits.min, max: r.limits.max };
}
