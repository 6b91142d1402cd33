/**
 * The shortest decimal digits that identify a float in ITS dtype (f16, bf16, f32 or f64): NumPy's
 * Dragon4 (dragon4.c, unique digit mode) ported with BigInt arithmetic, and NumPy's positional
 * and scientific renderings of those digits (`format_float_positional`,
 * `format_float_scientific`).
 *
 * @module
 */
import { type DType, toBF16Bits } from "./dtype.ts";

const LOG10_2 = 0.30102999566398119521373889472449;

/**
 * Digits of mantissa·2^exponent: the shortest that identify the value between its neighbours
 * (margins as NumPy computes them), cut off at `cutoffMax` digits (fraction digits or total
 * digits), printing at least `cutoffMin`. Returns the digits and the decimal exponent of the
 * first one.
 */
function dragon4(
  mantissa: bigint,
  exponent: number,
  mantissaBit: number,
  unequalMargins: boolean,
  fractionMode: boolean,
  cutoffMax: number,
  cutoffMin: number,
): [string, number] {
  if (mantissa === 0n) return ["0", 0];
  const isEven = (mantissa & 1n) === 0n;
  let value: bigint, scale: bigint, mLow: bigint;
  if (exponent > 0) {
    value = mantissa << BigInt(exponent + (unequalMargins ? 2 : 1));
    scale = unequalMargins ? 4n : 2n;
    mLow = 1n << BigInt(exponent);
  } else {
    value = mantissa << (unequalMargins ? 2n : 1n);
    scale = 1n << BigInt(-exponent + (unequalMargins ? 2 : 1));
    mLow = 1n;
  }
  const hiMul = unequalMargins ? 2n : 1n;
  let digitExponent = Math.ceil((mantissaBit + exponent) * LOG10_2 - 0.69);
  if (cutoffMax >= 0 && fractionMode && digitExponent <= -cutoffMax) {
    digitExponent = -cutoffMax + 1;
  }
  if (digitExponent > 0) scale *= 10n ** BigInt(digitExponent);
  else if (digitExponent < 0) {
    const p = 10n ** BigInt(-digitExponent);
    value *= p;
    mLow *= p;
  }
  if (value >= scale) digitExponent++;
  else {
    value *= 10n;
    mLow *= 10n;
  }
  let cutoffMaxExp = digitExponent - 16384;
  if (cutoffMax >= 0) {
    cutoffMaxExp = Math.max(cutoffMaxExp, fractionMode ? -cutoffMax : digitExponent - cutoffMax);
  }
  let cutoffMinExp = digitExponent;
  if (cutoffMin >= 0) {
    cutoffMinExp = Math.min(cutoffMinExp, fractionMode ? -cutoffMin : digitExponent - cutoffMin);
  }
  let outExponent = digitExponent - 1;
  const digits: number[] = [];
  let digit = 0, low = false, high = false;
  for (;;) {
    digitExponent--;
    digit = Number(value / scale);
    value %= scale;
    const mHigh = mLow * hiMul;
    low = isEven ? value <= mLow : value < mLow;
    high = isEven ? value + mHigh >= scale : value + mHigh > scale;
    if (((low || high) && digitExponent <= cutoffMinExp) || digitExponent === cutoffMaxExp) break;
    digits.push(digit);
    value *= 10n;
    mLow *= 10n;
  }
  let roundDown = low;
  if (low === high) {
    const twice = value * 2n;
    roundDown = twice < scale;
    if (twice === scale) roundDown = (digit & 1) === 0;
  }
  if (roundDown) digits.push(digit);
  else if (digit < 9) digits.push(digit + 1);
  else {
    for (;;) {
      if (digits.length === 0) {
        digits.push(1);
        outExponent++;
        break;
      }
      const d = digits.pop()!;
      if (d !== 9) {
        digits.push(d + 1);
        break;
      }
    }
  }
  return [digits.join(""), outExponent];
}

/** Bit layout of a float dtype. */
interface FloatLayout {
  fracBits: number;
  bias: number;
  expMax: number;
}

const LAYOUT: Partial<Record<DType, FloatLayout>> = {
  f64: { fracBits: 52, bias: 1023, expMax: 0x7ff },
  f32: { fracBits: 23, bias: 127, expMax: 0xff },
  f16: { fracBits: 10, bias: 15, expMax: 0x1f },
  bf16: { fracBits: 7, bias: 127, expMax: 0xff },
};

const scratch = new DataView(new ArrayBuffer(8));

/** A finite float of `dtype`, split like NumPy's Dragon4_PrintFloat_IEEE_* functions. */
interface Parts {
  neg: boolean;
  mantissa: bigint;
  exponent: number;
  mantissaBit: number;
  unequal: boolean;
}

function decompose(x: number, dtype: DType): Parts {
  let sign: number, e: number, frac: bigint;
  const L = LAYOUT[dtype]!;
  switch (dtype) {
    case "f64": {
      scratch.setFloat64(0, x);
      const hi = scratch.getUint32(0), lo = scratch.getUint32(4);
      sign = hi >>> 31;
      e = (hi >>> 20) & 0x7ff;
      frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
      break;
    }
    case "f32": {
      scratch.setFloat32(0, x);
      const b = scratch.getUint32(0);
      sign = b >>> 31;
      e = (b >>> 23) & 0xff;
      frac = BigInt(b & 0x7fffff);
      break;
    }
    case "f16": {
      scratch.setFloat16(0, x);
      const b = scratch.getUint16(0);
      sign = b >>> 15;
      e = (b >>> 10) & 0x1f;
      frac = BigInt(b & 0x3ff);
      break;
    }
    default: {
      const b = toBF16Bits(x);
      sign = b >>> 15;
      e = (b >>> 7) & 0xff;
      frac = BigInt(b & 0x7f);
    }
  }
  if (e !== 0) {
    return {
      neg: sign === 1,
      mantissa: (1n << BigInt(L.fracBits)) | frac,
      exponent: e - L.bias - L.fracBits,
      mantissaBit: L.fracBits,
      unequal: e !== 1 && frac === 0n,
    };
  }
  return {
    neg: sign === 1,
    mantissa: frac,
    exponent: 1 - L.bias - L.fracBits,
    mantissaBit: frac === 0n ? 0 : frac.toString(2).length - 1,
    unequal: false,
  };
}

/** NumPy's trim modes: "k" keep zeros, "." trim zeros keep the point, "0" keep one zero. */
export type Trim = "k" | "." | "0";

interface PositionalOptions {
  precision: number;
  minDigits: number;
  trim: Trim;
  padLeft: number;
  padRight: number;
}

/** `np.format_float_positional(x, unique=True, fractional=True, ...)` (FormatPositional). */
export function positional(x: number, dtype: DType, o: PositionalOptions): string {
  const p = decompose(x, dtype);
  const sign = p.neg ? "-" : "";
  const [digits, pe] = dragon4(
    p.mantissa,
    p.exponent,
    p.mantissaBit,
    p.unequal,
    true,
    o.precision,
    o.minDigits,
  );
  let s: string, whole: number, nfrac: number;
  if (pe >= 0) {
    whole = pe + 1;
    if (digits.length <= whole) {
      s = digits + "0".repeat(whole - digits.length);
      nfrac = 0;
    } else {
      s = digits.slice(0, whole) + "." + digits.slice(whole);
      nfrac = digits.length - whole;
    }
  } else {
    const zeros = -(pe + 1);
    s = "0." + "0".repeat(zeros) + digits;
    nfrac = zeros + digits.length;
    whole = 1;
  }
  if (nfrac === 0) s += ".";
  const want = Math.max(o.minDigits, 0);
  if (o.trim === "0") {
    if (nfrac === 0) {
      s += "0";
      nfrac++;
    }
  } else if (o.trim === "k" && want > nfrac) {
    s += "0".repeat(want - nfrac);
    nfrac = want;
  }
  if (o.trim !== "k" && nfrac > 0) {
    while (s.endsWith("0")) {
      s = s.slice(0, -1);
      nfrac--;
    }
    if (s.endsWith(".") && o.trim === "0") {
      s += "0";
      nfrac++;
    }
  }
  if (o.padRight >= nfrac) s += " ".repeat(o.padRight - nfrac);
  s = sign + s;
  if (o.padLeft > whole + sign.length) s = " ".repeat(o.padLeft - whole - sign.length) + s;
  return s;
}

interface ScientificOptions {
  precision: number;
  minDigits: number;
  trim: Trim;
  padLeft: number;
  expDigits: number;
}

/** `np.format_float_scientific(x, unique=True, ...)` (FormatScientific). */
export function scientific(x: number, dtype: DType, o: ScientificOptions): string {
  const p = decompose(x, dtype);
  const sign = p.neg ? "-" : "";
  let s = "";
  const left = 1 + sign.length;
  if (o.padLeft > left) s += " ".repeat(o.padLeft - left);
  s += sign;
  const [digits, pe] = dragon4(
    p.mantissa,
    p.exponent,
    p.mantissaBit,
    p.unequal,
    false,
    o.precision < 0 ? -1 : o.precision + 1,
    o.minDigits < 0 ? -1 : o.minDigits + 1,
  );
  let m = digits[0];
  let nfrac = digits.length - 1;
  if (nfrac > 0) m += "." + digits.slice(1);
  else m += ".";
  const want = Math.max(o.minDigits, 0);
  if (o.trim === "0") {
    if (nfrac === 0) {
      m += "0";
      nfrac++;
    }
  } else if (o.trim === "k" && want > nfrac) {
    m += "0".repeat(want - nfrac);
    nfrac = want;
  }
  if (o.trim !== "k" && nfrac > 0) {
    while (m.endsWith("0")) {
      m = m.slice(0, -1);
      nfrac--;
    }
    if (o.trim === "0" && m.endsWith(".")) m += "0";
  }
  const ed = o.expDigits < 0 ? 2 : Math.min(o.expDigits, 5);
  const ex = String(Math.abs(pe)).padStart(ed, "0");
  return s + m + "e" + (pe >= 0 ? "+" : "-") + ex;
}
