/**
 * Type promotion: the dtype NumPy 2 gives mixed operands (NEP 50), extended to bf16 as ml_dtypes
 * does, and the float dtype of float-valued ops. Rules only; the dtypes themselves are the rows
 * of the table in core/dtype.ts.
 *
 * @module
 */
import { type DType, elementInfo } from "./dtype.ts";
import { DTypeError } from "./errors.ts";

/** Smallest float dtype that holds every value of `d` (NumPy's rule for int inputs to float ops). */
function floatFor(d: DType): DType {
  const info = elementInfo(d, "floatResult");
  if (info.kind === "float") return d;
  if (info.kind === "bool" || info.bits === 8) return "f16";
  if (info.bits === 16) return "f32";
  return "f64";
}

/**
 * The dtype NumPy gives `a op b` for two arrays (NEP 50 rules), extended to bf16 the way
 * ml_dtypes does (bf16 with f16 → f32; bf16 with ints of 8 bits → bf16, wider ints as for f16).
 *
 * @example
 * ```ts
 * import { promoteTypes } from "@aprender/compute";
 * console.log(promoteTypes("i8", "u8"));  // "i16"
 * console.log(promoteTypes("i32", "f32")); // "f64"
 * ```
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  const A = elementInfo(a, "promoteTypes"), B = elementInfo(b, "promoteTypes");
  if (A.kind === "bool") return b;
  if (B.kind === "bool") return a;
  if (A.kind === "float" && B.kind === "float") {
    if ((a === "bf16" && b === "f16") || (a === "f16" && b === "bf16")) return "f32";
    return A.bits >= B.bits ? a : b;
  }
  if (A.kind === "float" || B.kind === "float") {
    const [f, i] = A.kind === "float" ? [a, b] : [b, a];
    const need = floatFor(i); // f16, f32 or f64
    if (f === "bf16") return need === "f16" ? "bf16" : need;
    return elementInfo(need, "promoteTypes").bits > elementInfo(f, "promoteTypes").bits ? need : f;
  }
  // both integer
  if (A.kind === B.kind) return A.bits >= B.bits ? a : b;
  const [s, u] = A.kind === "int" ? [A, B] : [B, A];
  if (s.bits > u.bits) return s.name;
  // unsigned at least as wide as signed: need a signed type wider than the unsigned one
  const bits = u.bits * 2;
  if (bits <= 64) return (`i${bits}`) as DType;
  return "f64";
}

/** NumPy's type numbers (its "most knowledgeable" dtype is the highest); bf16 last. */
const TYPE_ORDER: readonly DType[] = [
  "bool",
  "i8",
  "u8",
  "i16",
  "u16",
  "i32",
  "u32",
  "i64",
  "f32",
  "f64",
  "f16",
  "bf16",
];

/**
 * Promote several dtypes at once the way NumPy's `result_type` does (independent of order):
 * every dtype is promoted with the one of highest NumPy type number, and those results are
 * promoted together. Pairwise promotion is not associative (i16, u16, f16 → f32 here, but
 * f64 left to right).
 */
export function resultType(...ds: DType[]): DType {
  if (ds.length === 0) throw new DTypeError("resultType: needs at least one dtype.");
  const main = ds.reduce((m, d) => (TYPE_ORDER.indexOf(d) > TYPE_ORDER.indexOf(m) ? d : m));
  return ds.map((d) => promoteTypes(main, d)).reduce(promoteTypes);
}

/**
 * The dtype of a float-valued op (exp, sin, sqrt, ...) on input of dtype `d`: floats keep their
 * dtype, bool/8-bit ints → f16, 16-bit ints → f32, wider ints → f64 (NumPy's loops).
 */
export function floatResult(d: DType): DType {
  return floatFor(d);
}

/**
 * The dtype a JS number gives when combined with a tensor of dtype `d` ("weak" scalar, like
 * NumPy's Python scalars under NEP 50): it keeps `d` unless the number is not representable in
 * kind. An integer-valued number with an int tensor keeps the int dtype; a fractional number with
 * an int or bool tensor gives f32 (our default float, as in PyTorch); a number with bool gives i32
 * (integer) or f32.
 */
export function scalarPromote(d: DType, x: number | boolean): DType {
  if (typeof x === "boolean") return d;
  const info = elementInfo(d, "scalarPromote");
  if (info.kind === "float") return d;
  if (Number.isInteger(x)) return info.kind === "bool" ? "i32" : d;
  return "f32";
}
