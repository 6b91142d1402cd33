/**
 * NumPy-style printing of tensors: `tensor([[1. , 2.5],\n        [3. , 4. ]], dtype=f32)`.
 *
 * A port of NumPy's `arrayprint` defaults (NumPy 2.x, no legacy mode): `precision=8`,
 * `floatmode="maxprec"`, `threshold=1000`, `edgeitems=3`, `linewidth=75`. Floats are printed with
 * the shortest digits that identify the value in ITS dtype (f16, bf16, f32 or f64: NumPy's
 * Dragon4 in unique mode, ported with BigInt arithmetic in `dragon4.ts`), cut to 8 fractional digits; a
 * column shares one width; scientific notation is used when the largest magnitude reaches
 * `10^min(8, decimal digits of the dtype)` or the smallest nonzero is below 1e-4 or the ratio of
 * the two exceeds 1000. Arrays larger than 1000 elements are summarized with `...` (3 items at
 * each end of every long axis). `np.array2string(a, separator=", ", prefix="tensor(",
 * suffix=")")` gives exactly the text between `tensor(` and the trailing `dtype=` part.
 *
 * @module
 */
import { deviceProvider } from "./backend/registry.ts";
import {
  byteOffset,
  castNumber,
  type DType,
  DTYPES,
  elementBytes,
  fromBF16Bits,
  typedArrayFor,
} from "./dtype.ts";
import { fmtShape } from "./errors.ts";
import { finfo } from "./finfo.ts";
import { contiguousStrides, sizeOf } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { positional, scientific, type Trim } from "./dragon4.ts";

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

// ---- element formatters (NumPy's FloatingFormat, IntegerFormat, BoolFormat) ---------------------

type Value = number | bigint;
type Formatter = (v: Value) => string;

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
    // Decimal digits the dtype holds: NumPy's `finfo(dtype).precision` (bf16 as ml_dtypes).
    const cutoff = 10 ** Math.min(8, finfo(dtype).precision);
    expFormat = maxVal >= cutoff || minVal < castNumber(1e-4, dtype) ||
      castNumber(maxVal / minVal, dtype) > 1000;
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
  const bytes = elementBytes(t.dtype, "format");
  const kstrides = contiguousStrides(shape);
  for (let i = 0; i < n; i++) {
    let off = t.offset, rem = i;
    for (let a = 0; a < shape.length; a++) {
      const q = Math.floor(rem / kstrides[a]);
      rem -= q * kstrides[a];
      off += keep[a][q] * t.strides[a];
    }
    const b = p.readSync!(t.storage, byteOffset(t.dtype, off), bytes);
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
