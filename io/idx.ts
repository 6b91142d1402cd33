/**
 * The IDX format of MNIST and Fashion-MNIST (`train-images-idx3-ubyte.gz`, ...): a 4-byte magic
 * (two zero bytes, a type code, the number of dimensions), the dimensions as big-endian uint32,
 * then the data in C order, big-endian. Files are often gzipped; {@link loadIdx} decompresses
 * them with the platform's `DecompressionStream("gzip")`.
 *
 * Every size is checked against the bytes actually present before anything is allocated, and a
 * gzip stream is cut off as soon as it produces more bytes than its IDX header declares, so a
 * malformed or hostile file gives a {@link FormatError} naming the file and what was wrong,
 * never a crash, a hang or an unbounded allocation.
 *
 * @module
 */
import { type DType, elementBytes } from "../core/dtype.ts";
import { DTypeError, fmtShape, FormatError } from "../core/errors.ts";
import { fromTyped } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import {
  Budget,
  budgetOf,
  type BudgetOptions,
  enumTable,
  inflateInto,
  releaseInflated,
} from "./budget.ts";
import { readInput } from "./npy.ts";

/** IDX type codes (third magic byte) and our dtype for each. */
const IDX_TYPES: Readonly<Record<number, DType>> = enumTable({
  0x08: "u8",
  0x09: "i8",
  0x0b: "i16",
  0x0c: "i32",
  0x0d: "f32",
  0x0e: "f64",
});
const IDX_CODES: Readonly<Partial<Record<DType, number>>> = enumTable(
  Object.fromEntries(Object.entries(IDX_TYPES).map(([code, dt]) => [dt, Number(code)])),
);

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Options of {@link decodeIdx} and {@link loadIdx}. */
export interface IdxReadOptions extends BudgetOptions {
  /** Name used in error messages (default: the path, or "<bytes>"). */
  name?: string;
  /** Device to create the tensor on (default "cpu"). */
  device?: string;
}

/** What an IDX header declares. */
interface IdxHeader {
  dtype: DType;
  shape: number[];
  /** Byte offset of the data. */
  start: number;
  /** Byte length of the data. */
  nbytes: number;
}

/**
 * Parse the header of `bytes`. With `complete` the whole file must be present (exact length
 * checked); without, only the header must be (for checking a gzip stream while it inflates).
 * Returns null when `complete` is false and the header itself is not complete yet.
 */
function parseHeader(
  bytes: Uint8Array,
  fail: (what: string) => never,
  complete: boolean,
  budget: Budget,
): IdxHeader | null {
  const n = bytes.length;
  if (n < 4) {
    if (!complete) return null;
    fail(`file is truncated (${n} bytes; the magic number alone is 4).`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      bytes[0] === 0x1f && bytes[1] === 0x8b
        ? "the bytes are gzip-compressed. Hint: use loadIdx, which decompresses them."
        : `not an IDX file: the magic number must start with two zero bytes, found ` +
          `0x${hex(bytes[0])} 0x${hex(bytes[1])}.`,
    );
  }
  const dtype = IDX_TYPES[bytes[2]];
  if (!dtype) {
    fail(
      `unknown IDX type code 0x${hex(bytes[2])}; expected 0x08 (u8), 0x09 (i8), 0x0B (i16), ` +
        `0x0C (i32), 0x0D (f32) or 0x0E (f64).`,
    );
  }
  const ndim = bytes[3];
  const start = 4 + 4 * ndim;
  if (n < start) {
    if (!complete) return null;
    fail(`file is truncated (${n} bytes; a ${ndim}-dimensional header is ${start}).`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const itemsize = elementBytes(dtype);
  // Product with an overflow guard: stop as soon as it cannot be a real array.
  let nbytes = shape.includes(0) ? 0 : itemsize;
  for (const d of shape) {
    nbytes *= d;
    if (nbytes > budget.limit) budget.take(nbytes, `dimensions ${fmtShape(shape)} of ${dtype}`);
  }
  if (complete) {
    const available = n - start;
    if (available < nbytes) {
      fail(
        `dimensions ${fmtShape(shape)} of ${dtype} need ${nbytes} bytes of data but only ` +
          `${available} follow the header: the file is truncated or its dimensions are wrong.`,
      );
    }
    if (available > nbytes) {
      fail(
        `dimensions ${fmtShape(shape)} of ${dtype} need ${nbytes} bytes of data but ` +
          `${available} follow the header: ${available - nbytes} trailing bytes.`,
      );
    }
  }
  return { dtype, shape, start, nbytes };
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, "0").toUpperCase();
}

function decodeIdxAs(bytes: Uint8Array, options: IdxReadOptions, op: string): Tensor {
  const name = options.name ?? "<bytes>";
  const fail = (what: string): never => {
    throw new FormatError(`${op}: ${name}: ${what}`);
  };
  if (!(bytes instanceof Uint8Array)) fail("expected a Uint8Array of the file's bytes.");
  const budget = new Budget(op, name, budgetOf(op, options.maxBytes, bytes.length));
  const { dtype, shape, start, nbytes } = parseHeader(bytes, fail, true, budget)!;
  const itemsize = elementBytes(dtype);
  let raw = bytes.subarray(start, start + nbytes);
  if (itemsize > 1 && LITTLE_ENDIAN_HOST) raw = swapBytes(raw, itemsize);
  return fromTyped(raw, shape, dtype, options.device ?? "cpu");
}

/** A byte-swapped copy (IDX data is big-endian). */
function swapBytes(raw: Uint8Array, itemsize: number): Uint8Array {
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += itemsize) {
    for (let k = 0; k < itemsize; k++) out[i + k] = raw[i + itemsize - 1 - k];
  }
  return out;
}

/**
 * Decode the (uncompressed) bytes of an IDX file into a tensor of its dtype (u8, i8, i16, i32,
 * f32 or f64) and shape. The data length must match the dimensions exactly; anything else
 * throws a {@link FormatError} naming what was wrong. Gzipped bytes are refused with a hint:
 * {@link loadIdx} decompresses them.
 *
 * @example
 * ```ts
 * import { decodeIdx } from "@aprender/compute";
 * // magic 0x00000801 (u8, 1 dimension), 3 items: labels 7, 2, 1
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]);
 * const t = decodeIdx(bytes);
 * console.log(t.dtype, t.toArraySync()); // u8 [7, 2, 1]
 * ```
 */
export function decodeIdx(bytes: Uint8Array, options: IdxReadOptions = {}): Tensor {
  return decodeIdxAs(bytes, options, "decodeIdx");
}

/**
 * Encode a tensor as the bytes of an uncompressed IDX file (big-endian, C order). Supports the
 * dtypes IDX has: u8, i8, i16, i32, f32, f64 (others throw a DTypeError); at most 255
 * dimensions, each below 2^32. CPU tensors only.
 *
 * @example
 * ```ts
 * import { decodeIdx, encodeIdx, tensor } from "@aprender/compute";
 * const bytes = encodeIdx(tensor([[1, 2], [3, 4]], { dtype: "i16" }));
 * console.log(bytes.length, decodeIdx(bytes).toArraySync()); // 20 [[1, 2], [3, 4]]
 * ```
 */
export function encodeIdx(t: Tensor): Uint8Array {
  const code = IDX_CODES[t.dtype];
  if (code === undefined) {
    throw new DTypeError(
      `encodeIdx: dtype ${t.dtype} has no IDX type code; IDX stores u8, i8, i16, i32, f32 and ` +
        `f64. Hint: convert it first with t.astype("f32").`,
    );
  }
  if (t.shape.length > 255 || t.shape.some((d) => d >= 2 ** 32)) {
    throw new FormatError(
      `encodeIdx: shape ${fmtShape(t.shape)} does not fit IDX (at most 255 dimensions, each ` +
        `below 2^32).`,
    );
  }
  const data = t.dataSync();
  const itemsize = elementBytes(t.dtype);
  let body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (itemsize > 1 && LITTLE_ENDIAN_HOST) body = swapBytes(body, itemsize);
  const start = 4 + 4 * t.shape.length;
  const out = new Uint8Array(start + body.length);
  out.set([0, 0, code, t.shape.length]);
  const view = new DataView(out.buffer);
  t.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(body, start);
  return out;
}

/** Gunzip `comp` into one buffer of the size its IDX header declares (peak ≈ 1× the data). */
function gunzipIdx(
  comp: Uint8Array,
  fail: (what: string) => never,
  budget: Budget,
): Promise<Uint8Array> {
  return inflateInto(comp, "gzip", (head) => {
    const h = parseHeader(head, fail, false, budget);
    return h ? h.start + h.nbytes : null;
  }, fail);
}

/**
 * Load an IDX file (a path, a `file:` URL, or the file's bytes), gzipped (detected by the
 * gzip magic bytes, as in MNIST's `*-ubyte.gz`) or not. See {@link decodeIdx} for what is
 * accepted; malformed files, corrupt gzip streams and streams that inflate past their declared
 * size throw a {@link FormatError} naming the file.
 *
 * @example
 * ```ts
 * import { encodeIdx, loadIdx, tensor } from "@aprender/compute";
 * const path = await Deno.makeTempFile({ suffix: ".idx" });
 * await Deno.writeFile(path, encodeIdx(tensor([[0, 255], [128, 7]], { dtype: "u8" })));
 * const t = await loadIdx(path);
 * console.log(t.shape, t.dtype); // [2, 2] "u8"
 * ```
 */
export async function loadIdx(
  pathOrBytes: string | URL | Uint8Array,
  options: IdxReadOptions = {},
): Promise<Tensor> {
  const { bytes: file, name: fileName } = await readInput(pathOrBytes, "loadIdx");
  const name = options.name ?? fileName;
  const fail = (what: string): never => {
    throw new FormatError(`loadIdx: ${name}: ${what}`);
  };
  if (!(file instanceof Uint8Array)) fail("expected a Uint8Array of the file's bytes.");
  const gz = file.length >= 2 && file[0] === 0x1f && file[1] === 0x8b;
  const budget = new Budget("loadIdx", name, budgetOf("loadIdx", options.maxBytes, file.length));
  const bytes = gz ? await gunzipIdx(file, fail, budget) : file;
  try {
    return decodeIdxAs(bytes, { ...options, name }, "loadIdx");
  } finally {
    if (gz) releaseInflated(bytes);
  }
}
