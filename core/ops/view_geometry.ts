/**
 * The geometry behind the view ops: strides that show a strided tensor in a new shape without
 * copying, `-1` inference of reshape, and Python's slice arithmetic. Pure functions on shapes.
 *
 * @module
 */
import { ArgumentError, fmtShape, IndexError, ShapeError } from "../errors.ts";
import { describeArg, sizeOf } from "../shape.ts";
import type { SliceArg } from "./view.ts";

/**
 * Strides that show a non-contiguous tensor in `newShape` without copying, or null when the
 * layout does not allow it (PyTorch's `computeStride`; NumPy views in the same cases): each run
 * of old axes that is contiguous within itself must map onto whole new axes.
 */
export function viewStrides(
  oldShape: readonly number[],
  oldStrides: readonly number[],
  newShape: readonly number[],
): number[] | null {
  if (oldShape.length === 0 || sizeOf(oldShape) === 0) return null;
  const out = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let base = oldStrides[oldShape.length - 1];
  let oldN = 1, newN = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    oldN *= oldShape[d];
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== oldN * base)) {
      while (viewD >= 0 && (newN < oldN || newShape[viewD] === 1)) {
        out[viewD] = newN * base;
        newN *= newShape[viewD];
        viewD--;
      }
      if (newN !== oldN) return null;
      if (d > 0) {
        base = oldStrides[d - 1];
        oldN = 1;
        newN = 1;
      }
    }
  }
  return viewD === -1 ? out : null;
}

export function inferShape(
  shape: readonly number[],
  size: number,
  from: readonly number[],
  op: string,
): number[] {
  const out = [...shape];
  let infer = -1;
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    if (d === -1) {
      if (infer >= 0) {
        throw new ShapeError(`${op}: only one length may be -1, got ${fmtShape(shape)}.`);
      }
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid length ${d} in ${fmtShape(shape)}.`);
    }
  }
  if (infer >= 0) {
    const rest = sizeOf(out.filter((_, i) => i !== infer));
    if (rest === 0 || size % rest !== 0) {
      throw new ShapeError(
        `${op}: cannot reshape ${fmtShape(from)} (${size} elements) into ${fmtShape(shape)}: ` +
          `${size} is not a multiple of ${rest}.`,
      );
    }
    out[infer] = size / rest;
  }
  if (sizeOf(out) !== size) {
    throw new ShapeError(
      `${op}: cannot reshape ${fmtShape(from)} (${size} elements) into ${fmtShape(shape)} ` +
        `(${sizeOf(out)} elements). Hint: the product of the new lengths must equal ${size}; ` +
        `use -1 for one length to have it inferred.`,
    );
  }
  return out;
}

export function parseSlice(spec: Exclude<SliceArg, number>, axis: number) {
  if (spec === null) return { start: null, stop: null, step: 1 };
  const forms = `a number (one index), null (the whole axis), "start:stop:step", ` +
    `{ start?, stop?, step? }, or [start, stop, step?] (Python's slice(start, stop, step))`;
  if (Array.isArray(spec)) {
    // NumPy users write (start, stop, step): a 2- or 3-element array of integers or nulls.
    const ok = (spec.length === 2 || spec.length === 3) &&
      spec.every((v) => v === null || v === undefined || Number.isInteger(v));
    if (!ok) {
      throw new ArgumentError(
        `slice: ${describeArg(spec)} for axis ${axis} is not a [start, stop, step?] slice. ` +
          `Each axis takes ${forms}. Hint: to slice several axes, pass one argument per axis: ` +
          `t.slice(0, null, "::2").`,
      );
    }
    const arr = spec as readonly (number | null | undefined)[];
    spec = { start: arr[0], stop: arr[1], step: arr[2] };
  } else if (typeof spec === "object") {
    for (const k of Object.keys(spec)) {
      if (k !== "start" && k !== "stop" && k !== "step") {
        throw new ArgumentError(
          `slice: unknown key "${k}" in ${describeArg(spec)} for axis ${axis}. Each axis takes ` +
            `${forms}.`,
        );
      }
    }
  } else if (typeof spec !== "string") {
    throw new ArgumentError(
      `slice: ${describeArg(spec)} (${typeof spec}) for axis ${axis} is not a slice. Each axis ` +
        `takes ${forms}.`,
    );
  }
  if (typeof spec === "string") {
    const parts = spec.split(":").map((p) => p.trim());
    const num = (p: string | undefined) => {
      if (p === undefined || p === "") return null;
      const v = Number(p);
      if (!Number.isInteger(v)) {
        throw new IndexError(`slice: "${spec}" for axis ${axis} is not "start:stop:step".`);
      }
      return v;
    };
    if (parts.length < 1 || parts.length > 3 || (parts.length === 1 && parts[0] !== "")) {
      throw new IndexError(
        `slice: "${spec}" for axis ${axis} is not "start:stop:step"; for one index pass a number.`,
      );
    }
    return { start: num(parts[0]), stop: num(parts[1]), step: num(parts[2]) ?? 1 };
  }
  const o = spec as { start?: number | null; stop?: number | null; step?: number | null };
  const step = o.step ?? 1;
  for (const v of [o.start, o.stop, step]) {
    if (v !== null && v !== undefined && !Number.isInteger(v)) {
      throw new IndexError(`slice: bounds for axis ${axis} must be integers, got ${v}.`);
    }
  }
  return { start: o.start ?? null, stop: o.stop ?? null, step };
}

/** Python's `slice.indices`: first index and count for a slice over an axis of length `len`. */
export function sliceIndices(
  start: number | null,
  stop: number | null,
  step: number,
  len: number,
): [number, number] {
  if (step === 0) throw new IndexError("slice: step cannot be 0.");
  let s: number, e: number;
  if (step > 0) {
    s = start === null ? 0 : start < 0 ? Math.max(start + len, 0) : Math.min(start, len);
    e = stop === null ? len : stop < 0 ? Math.max(stop + len, 0) : Math.min(stop, len);
    return [s, Math.max(0, Math.ceil((e - s) / step))];
  }
  s = start === null ? len - 1 : start < 0 ? Math.max(start + len, -1) : Math.min(start, len - 1);
  e = stop === null ? -1 : stop < 0 ? Math.max(stop + len, -1) : Math.min(stop, len - 1);
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}
