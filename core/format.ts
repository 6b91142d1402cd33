/**
 * NumPy-style printing of tensors: `tensor([[1. , 2.5],\n        [3. , 4. ]], dtype=f32)`.
 *
 * A port of NumPy's `arrayprint` defaults (NumPy 2.x, no legacy mode): `precision=8`,
 * `floatmode="maxprec"`, `threshold=1000`, `edgeitems=3`, `linewidth=75`. Floats are printed with
 * the shortest digits that identify the value in ITS dtype (f16, bf16, f32 or f64: NumPy's
 * Dragon4 in unique mode, ported here with BigInt arithmetic), cut to 8 fractional digits; a
 * column shares one width; scientific notation is used when the largest magnitude reaches
 * `10^min(8, decimal digits of the dtype)` or the smallest nonzero is below 1e-4 or the ratio of
 * the two exceeds 1000. Arrays larger than 1000 elements are summarized with `...` (3 items at
 * each end of every long axis). `np.array2string(a, separator=", ", prefix="tensor(",
 * suffix=")")` gives exactly the text between `tensor(` and the trailing `dtype=` part.
 *
 * @module
 */
import { deviceProvider } from "./backend/registry.ts";
import { type DType, DTYPES, fromBF16Bits, toBF16Bits, typedArrayFor } from "./dtype.ts";
import { fmtShape } from "./errors.ts";
import { contiguousStrides, sizeOf } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Options of {@link arrayToString}, with NumPy's defaults. */
export interface PrintOptions {
  /** Fractional digits at most (default 8). */
  precision?: number;
  /** Summarize when the size exceeds this (default 1000). */
  threshold?: number;
  /** Items kept at each end of a summarized axis (default 3). */
  edgeitems?: number;
  /** Characters per line (default 75). */
  linewidth?: number;
  /** Between elements (default ", "). */
  separator?: string;
  /** Text that will precede the array (its length sets the continuation indent). */
  prefix?: string;
  /** Text that will follow the array (its length shortens the last line). */
  suffix?: string;
}

// ---- Dragon4 (NumPy's dragon4.c, unique digit mode) ---------------------------------------------

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
type Trim = "k" | "." | "0";

interface PositionalOptions {
  precision: number;
  minDigits: number;
  trim: Trim;
  padLeft: number;
  padRight: number;
}

/** `np.format_float_positional(x, unique=True, fractional=True, ...)` (FormatPositional). */
function positional(x: number, dtype: DType, o: PositionalOptions): string {
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
function scientific(x: number, dtype: DType, o: ScientificOptions): string {
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

// ---- element formatters (NumPy's FloatingFormat, IntegerFormat, BoolFormat) ---------------------

type Value = number | bigint;
type Formatter = (v: Value) => string;

/** Decimal digits the dtype holds (NumPy's `finfo(dtype).precision`; bf16 as ml_dtypes). */
const FLOAT_DIGITS: Partial<Record<DType, number>> = { f64: 15, f32: 6, f16: 3, bf16: 2 };

function roundTo(x: number, dtype: DType): number {
  switch (dtype) {
    case "f32":
      return Math.fround(x);
    case "f16":
      return Math.f16round(x);
    case "bf16":
      return fromBF16Bits(toBF16Bits(x));
    default:
      return x;
  }
}

function floatFormatter(data: number[], dtype: DType, precision: number): Formatter {
  const finite = data.filter(Number.isFinite);
  let expFormat = false;
  let maxVal = -Infinity, minVal = Infinity;
  for (const v of finite) {
    if (v === 0) continue;
    const a = Math.abs(v);
    if (a > maxVal) maxVal = a;
    if (a < minVal) minVal = a;
  }
  if (maxVal !== -Infinity) {
    // NumPy compares in the array's dtype (Python floats are weak scalars under NEP 50).
    const cutoff = 10 ** Math.min(8, FLOAT_DIGITS[dtype]!);
    expFormat = maxVal >= cutoff || minVal < roundTo(1e-4, dtype) ||
      roundTo(maxVal / minVal, dtype) > 1000;
  }
  let padLeft = 0, padRight = 0, expSize = -1, minDigits = -1, prec = precision;
  let trim: Trim = ".";
  if (finite.length === 0) {
    // keep the defaults above
  } else if (expFormat) {
    let maxInt = 0, maxFrac = 0, maxExp = 0;
    for (const v of finite) {
      const s = scientific(v, dtype, {
        precision: prec,
        minDigits: -1,
        trim: ".",
        padLeft: -1,
        expDigits: -1,
      });
      const e = s.indexOf("e");
      const [ip, fp] = s.slice(0, e).split(".");
      maxInt = Math.max(maxInt, ip.length);
      maxFrac = Math.max(maxFrac, fp.length);
      maxExp = Math.max(maxExp, s.length - e - 1);
    }
    expSize = maxExp - 1;
    trim = "k";
    prec = maxFrac;
    minDigits = prec;
    padLeft = maxInt;
    padRight = expSize + 2 + prec;
  } else {
    for (const v of finite) {
      const s = positional(v, dtype, {
        precision: prec,
        minDigits: -1,
        trim: ".",
        padLeft: -1,
        padRight: -1,
      });
      const [ip, fp] = s.split(".");
      padLeft = Math.max(padLeft, ip.length);
      padRight = Math.max(padRight, fp.length);
    }
    minDigits = 0;
  }
  if (finite.length !== data.length) {
    const negInf = data.some((v) => v === -Infinity) ? 1 : 0;
    const offset = padRight + 1;
    padLeft = Math.max(padLeft, 3 - offset, 3 + negInf - offset);
  }
  return (v) => {
    const x = v as number;
    if (!Number.isFinite(x)) {
      const r = Number.isNaN(x) ? "nan" : x < 0 ? "-inf" : "inf";
      return " ".repeat(Math.max(0, padLeft + padRight + 1 - r.length)) + r;
    }
    if (expFormat) {
      return scientific(x, dtype, {
        precision: prec,
        minDigits,
        trim,
        padLeft,
        expDigits: expSize,
      });
    }
    return positional(x, dtype, { precision: prec, minDigits, trim, padLeft, padRight });
  };
}

function intFormatter(data: Value[]): Formatter {
  let width = 0;
  if (data.length > 0) {
    let max = data[0], min = data[0];
    for (const v of data) {
      if (v > max) max = v;
      if (v < min) min = v;
    }
    width = Math.max(String(max).length, String(min).length);
  }
  return (v) => String(v).padStart(width);
}

function formatterFor(data: Value[], dtype: DType, shape0d: boolean, precision: number): Formatter {
  if (dtype === "bool") {
    const t = shape0d ? "True" : " True";
    return (v) => (v ? t : "False");
  }
  if (DTYPES[dtype].kind === "float") return floatFormatter(data as number[], dtype, precision);
  return intFormatter(data);
}

// ---- layout (NumPy's _formatArray) --------------------------------------------------------------

function extendLine(
  s: string,
  line: string,
  word: string,
  width: number,
  nextPrefix: string,
): [string, string] {
  let wrap = line.length + word.length > width;
  if (line.length <= nextPrefix.length) wrap = false;
  if (wrap) {
    s += line.trimEnd() + "\n";
    line = nextPrefix;
  }
  return [s, line + word];
}

/**
 * The values of `t` needed for printing: all of them, or (summarizing) the first and last
 * `edge` items of each axis longer than `2·edge`. Returns the kept shape, the values in C order
 * over it, and which axes were cut.
 */
function gather(t: Tensor, summarize: boolean, edge: number): {
  shape: number[];
  values: Value[];
  cut: boolean[];
} {
  const cut = t.shape.map((d) => summarize && d > 2 * edge);
  const keep = t.shape.map((d, a) =>
    cut[a]
      ? [...Array(edge).keys(), ...Array.from({ length: edge }, (_, i) => d - edge + i)]
      : [...Array(d).keys()]
  );
  const shape = keep.map((k) => k.length);
  const n = sizeOf(shape);
  const values: Value[] = new Array(n);
  const decode = (raw: ArrayLike<number | bigint>, i: number): Value => {
    const v = raw[i];
    if (t.dtype === "bf16") return fromBF16Bits(v as number);
    return v;
  };
  if (!cut.some((c) => c)) {
    const raw = t.dataSync();
    for (let i = 0; i < n; i++) values[i] = decode(raw, i);
    return { shape, values, cut };
  }
  // Summarized: read only the kept elements, straight from the strided storage.
  const p = deviceProvider(t.device);
  const bytes = DTYPES[t.dtype].bytes;
  const kstrides = contiguousStrides(shape);
  for (let i = 0; i < n; i++) {
    let off = t.offset, rem = i;
    for (let a = 0; a < shape.length; a++) {
      const q = Math.floor(rem / kstrides[a]);
      rem -= q * kstrides[a];
      off += keep[a][q] * t.strides[a];
    }
    const b = p.readSync!(t.storage, off * bytes, bytes);
    values[i] = decode(typedArrayFor(t.dtype, b.buffer, b.byteOffset, 1), 0);
  }
  return { shape, values, cut };
}

/**
 * The bracketed array text of `t`, exactly as `np.array2string(a, separator=", ")` prints it
 * (with `prefix`/`suffix` as there). Only for host-readable tensors.
 *
 * @example
 * ```ts ignore
 * import { tensor } from "@aprender/compute";
 * import { arrayToString } from "./format.ts";
 * console.log(arrayToString(tensor([1, 2.5]))); // "[1. , 2.5]"
 * ```
 */
export function arrayToString(t: Tensor, options: PrintOptions = {}): string {
  const precision = options.precision ?? 8;
  const threshold = options.threshold ?? 1000;
  const edge = options.edgeitems ?? 3;
  const separator = options.separator ?? ", ";
  const width = (options.linewidth ?? 75) - (options.suffix ?? "").length;
  const prefix = options.prefix ?? "";
  if (t.size === 0) return "[]";
  const summarize = t.size > threshold;
  const { shape, values, cut } = gather(t, summarize, edge);
  const fmt = formatterFor(values, t.dtype, t.ndim === 0, precision);
  const strides = contiguousStrides(shape);
  const ndim = shape.length;
  const sepTrim = separator.trimEnd();

  const recurse = (axis: number, base: number, hanging: string, currWidth: number): string => {
    const left = ndim - axis;
    if (left === 0) return fmt(values[base]);
    const nextHanging = hanging + " ";
    const nextWidth = currWidth - 1;
    const len = shape[axis];
    const summary = cut[axis];
    const lead = summary ? edge : 0;
    const trail = summary ? edge : len;
    const at = (k: number) => base + k * strides[axis];
    let s = "";
    if (left === 1) {
      const elemWidth = currWidth - Math.max(sepTrim.length, 1);
      let line = hanging;
      for (let i = 0; i < lead; i++) {
        [s, line] = extendLine(
          s,
          line,
          recurse(axis + 1, at(i), nextHanging, nextWidth),
          elemWidth,
          hanging,
        );
        line += separator;
      }
      if (summary) {
        [s, line] = extendLine(s, line, "...", elemWidth, hanging);
        line += separator;
      }
      for (let i = trail; i > 1; i--) {
        [s, line] = extendLine(
          s,
          line,
          recurse(axis + 1, at(len - i), nextHanging, nextWidth),
          elemWidth,
          hanging,
        );
        line += separator;
      }
      [s, line] = extendLine(
        s,
        line,
        recurse(axis + 1, at(len - 1), nextHanging, nextWidth),
        elemWidth,
        hanging,
      );
      s += line;
    } else {
      const lineSep = sepTrim + "\n".repeat(left - 1);
      for (let i = 0; i < lead; i++) {
        s += hanging + recurse(axis + 1, at(i), nextHanging, nextWidth) + lineSep;
      }
      if (summary) s += hanging + "..." + lineSep;
      for (let i = trail; i > 1; i--) {
        s += hanging + recurse(axis + 1, at(len - i), nextHanging, nextWidth) + lineSep;
      }
      s += hanging + recurse(axis + 1, at(len - 1), nextHanging, nextWidth);
    }
    return "[" + s.slice(hanging.length) + "]";
  };
  return recurse(0, 0, " " + " ".repeat(prefix.length), width);
}

/**
 * NumPy-style text of a tensor, as `Tensor.toString()` prints it:
 * `tensor(<values>, dtype=f32)` (plus `shape=` when summarized or empty, and `device=` off the
 * CPU). Tensors that cannot be read synchronously (GPU) print their shape, dtype and device
 * only; disposed tensors say so.
 *
 * @example
 * ```ts ignore
 * import { tensor } from "@aprender/compute";
 * console.log(String(tensor([[1, 2], [3, 4]])));
 * // tensor([[1., 2.],
 * //         [3., 4.]], dtype=f32)
 * ```
 */
export function formatTensor(t: Tensor, options: PrintOptions = {}): string {
  const prefix = "tensor(";
  const extras: string[] = [];
  const device = t.device;
  const readable = !t.disposed && deviceProvider(device).readSync !== undefined;
  if (!readable) {
    const what = t.disposed ? "<disposed>, " : "";
    const dev = device === "cpu" ? "" : `, device=${device}`;
    return `${prefix}${what}shape=${fmtShape(t.shape)}, dtype=${t.dtype}${dev})`;
  }
  const threshold = options.threshold ?? 1000;
  const body = arrayToString(t, { ...options, prefix, suffix: ")" });
  if ((t.size === 0 && !(t.ndim === 1)) || t.size > threshold) {
    extras.push(`shape=${fmtShape(t.shape)}`);
  }
  extras.push(`dtype=${t.dtype}`);
  if (device !== "cpu") extras.push(`device=${device}`);
  const arr = prefix + body + ",";
  const extra = extras.join(", ") + ")";
  const lastLen = arr.length - (arr.lastIndexOf("\n") + 1);
  const spacer = lastLen + extra.length + 1 > (options.linewidth ?? 75)
    ? "\n" + " ".repeat(prefix.length)
    : " ";
  return arr + spacer + extra;
}
