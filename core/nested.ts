/**
 * Conversion between nested JS arrays and flat typed arrays.
 *
 * @module
 */
import { type DType, fromBF16Bits, type TypedArray } from "./dtype.ts";
import { AllocationError, fmtShape, ShapeError } from "./errors.ts";
import type { NestedArray } from "./tensor.ts";

/** The shape of a nested array, checking that it is not ragged and holds only numbers/booleans. */
export function nestedShape(data: NestedArray, op = "tensor"): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  check(data, shape, 0, [], op);
  return shape;
}

function check(
  data: NestedArray,
  shape: number[],
  depth: number,
  path: number[],
  op: string,
): void {
  if (depth === shape.length) {
    const t = typeof data;
    if (t !== "number" && t !== "boolean" && t !== "bigint") {
      throw new ShapeError(
        `${op}: element at [${path.join(", ")}] is ${Array.isArray(data) ? "an array" : t}; ` +
          `expected a number or boolean at depth ${depth} (the array is ragged or nested unevenly). ` +
          `Hint: every row must have the same length, like ${JSON.stringify(shape)}.`,
      );
    }
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    const got = Array.isArray(data) ? `length ${data.length}` : `a ${typeof data}`;
    throw new ShapeError(
      `${op}: ragged nested array: element at [${path.join(", ")}] has ${got}, expected length ` +
        `${shape[depth]} (inferred shape ${
          JSON.stringify(shape)
        }). Hint: every row along an axis ` +
        `must have the same length.`,
    );
  }
  for (let i = 0; i < data.length; i++) check(data[i], shape, depth + 1, [...path, i], op);
}

/** Flatten a (checked) nested array into `out` (a plain number array), C order. */
export function flattenNested(data: NestedArray, out: number[] = []): number[] {
  if (Array.isArray(data)) { for (const d of data) flattenNested(d, out); }
  else out.push(Number(data));
  return out;
}

/** The most JS arrays a nested conversion builds (2^26: a few GB of empty arrays already). */
const MAX_NESTED_ARRAYS = 2 ** 26;
/** The longest JS array. */
const MAX_JS_ARRAY = 2 ** 32 - 1;

/**
 * An AllocationError when nested arrays of `shape` cannot be built: an axis longer than a JS
 * array can be, or more arrays than {@link MAX_NESTED_ARRAYS} (an empty tensor of shape
 * (2^31, 0) would need 2^31 empty arrays). Checked in O(ndim) before anything is built.
 */
export function checkNestable(shape: readonly number[], op: string): void {
  let arrays = 0, outer = 1;
  for (let d = 0; d < shape.length; d++) {
    if (outer === 0) return; // an earlier axis is empty: axis d is never built ((0, 2^40) → [])
    if (shape[d] > MAX_JS_ARRAY) {
      throw new AllocationError(
        `${op}: axis ${d} of shape ${fmtShape(shape)} is longer than a JS array can be ` +
          `(${MAX_JS_ARRAY}). Hint: read the flat data with dataSync()/data(), or slice first.`,
      );
    }
    arrays += outer;
    outer *= shape[d];
    if (arrays > MAX_NESTED_ARRAYS) {
      throw new AllocationError(
        `${op}: shape ${fmtShape(shape)} would build more than ${MAX_NESTED_ARRAYS} nested JS ` +
          `arrays. Hint: read the flat data with dataSync()/data(), or slice first.`,
      );
    }
  }
}

/** Build nested JS arrays from flat C-order raw elements. */
export function toNested(flat: TypedArray, shape: readonly number[], dtype: DType): NestedArray {
  checkNestable(shape, "toArray");
  const get = (i: number): number | boolean => {
    const v = flat[i];
    if (dtype === "bool") return v !== 0;
    if (dtype === "bf16") return fromBF16Bits(v as number);
    return Number(v);
  };
  if (shape.length === 0) return get(0);
  let pos = 0;
  const build = (d: number): NestedArray => {
    const n = shape[d];
    const out: NestedArray[] = new Array(n);
    if (d === shape.length - 1) { for (let i = 0; i < n; i++) out[i] = get(pos++); }
    else for (let i = 0; i < n; i++) out[i] = build(d + 1);
    return out;
  };
  return build(0);
}
