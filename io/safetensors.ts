/**
 * The safetensors format (Hugging Face's `safetensors`): an 8-byte little-endian header length,
 * a JSON header `{"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets"}, ...}`, then
 * the tensors' raw little-endian bytes.
 *
 * Files are written the way the reference implementation writes them (tensors ordered by dtype,
 * largest first, then by name; the header padded with spaces to a multiple of 8 bytes), so
 * `safetensors.torch.load_file` reads them and `save_file`'s output reads here. Reading checks
 * what the reference checks, before allocating anything: the header length against the file and
 * a 100 MB limit, the JSON, every dtype and shape, each tensor's byte size against its offsets,
 * and that the offsets tile the data section exactly (no gap, overlap or trailing bytes). A
 * malformed file gives a {@link FormatError} naming the file and what was wrong.
 *
 * @module
 */
import { type DType, elementBytes, type TypedArray } from "../core/dtype.ts";
import { fmtShape, FormatError } from "../core/errors.ts";
import { fromTyped } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import {
  Budget,
  budgetOf,
  type BudgetOptions,
  checkJsonDepth,
  enumTable,
  writeOutput,
} from "./budget.ts";
import { readInput } from "./npy.ts";

/** The reference implementation's limit on the header (JSON) size. */
const MAX_HEADER_SIZE = 100_000_000;
/** A sanity limit on the number of dimensions. */
const MAX_DIMS = 64;

/** safetensors dtype names of our dtypes, in the reference's order (sorting key). */
const TO_ST: Record<DType, string> = {
  bool: "BOOL",
  u8: "U8",
  i8: "I8",
  i16: "I16",
  u16: "U16",
  f16: "F16",
  bf16: "BF16",
  i32: "I32",
  u32: "U32",
  f32: "F32",
  f64: "F64",
  i64: "I64",
};
const RANK: Readonly<Record<string, number>> = enumTable(
  Object.fromEntries(Object.values(TO_ST).map((n, i) => [n, i])),
);
const FROM_ST: Readonly<Record<string, DType>> = enumTable(
  Object.fromEntries(Object.entries(TO_ST).map(([d, n]) => [n, d as DType])),
);
/** safetensors dtypes we know but cannot hold. */
const UNSUPPORTED = new Set([
  "U64",
  "F8_E4M3",
  "F8_E5M2",
  "F8_E8M0",
  "F6_E2M3",
  "F6_E3M2",
  "F4",
  "C64",
]);

/** What {@link decodeSafetensors} and {@link loadSafetensors} return. */
export interface SafetensorsFile {
  /** The tensors by name. */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` strings (empty when the file has none). */
  metadata: Record<string, string>;
}

/** Options of {@link decodeSafetensors} and {@link loadSafetensors}. */
export interface SafetensorsReadOptions extends BudgetOptions {
  /** Name used in error messages (default: the path, or "<bytes>"). */
  name?: string;
  /** Device to create the tensors on (default "cpu"). */
  device?: string;
}

function setProp<T>(o: Record<string, T>, k: string, v: T): void {
  // defineProperty: a tensor named "__proto__" must be a plain entry.
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

// ---- decode --------------------------------------------------------------------------------

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Decode the bytes of a `.safetensors` file into tensors (copies: the bytes may be reused) and
 * the metadata strings. Malformed input throws a {@link FormatError} naming what was wrong.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors, tensor } from "@aprender/compute";
 * const bytes = encodeSafetensors({ w: tensor([[1, 2], [3, 4]]) }, { step: "3" });
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * console.log(tensors.w.toArraySync(), metadata); // [[1, 2], [3, 4]] { step: "3" }
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: SafetensorsReadOptions = {},
): SafetensorsFile {
  return decodeAs(bytes, options, "decodeSafetensors");
}

function decodeAs(bytes: Uint8Array, options: SafetensorsReadOptions, op: string): SafetensorsFile {
  const name = options.name ?? "<bytes>";
  const fail = (what: string): never => {
    throw new FormatError(`${op}: ${name}: ${what}`);
  };
  if (!(bytes instanceof Uint8Array)) fail("expected a Uint8Array of the file's bytes.");
  const n = bytes.length;
  if (n < 8) fail(`file is truncated (${n} bytes; the header length alone is 8).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen64 = view.getBigUint64(0, true);
  if (hlen64 > BigInt(MAX_HEADER_SIZE)) {
    fail(
      `header length ${hlen64} exceeds the ${MAX_HEADER_SIZE}-byte limit: not a safetensors ` +
        `file, or a corrupt one.`,
    );
  }
  const hlen = Number(hlen64);
  if (8 + hlen > n) {
    fail(`header declares ${hlen} bytes but only ${n - 8} follow: the file is truncated.`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen));
  } catch {
    return fail("header is not valid UTF-8.");
  }
  if (!text.startsWith("{")) fail(`header does not start with '{' (not a safetensors file).`);
  checkJsonDepth(text, (what) => fail(`header ${what}`));
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("header is not a JSON object.");
  }
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, info] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        fail(`"__metadata__" is not an object of strings.`);
      }
      for (const [mk, mv] of Object.entries(info as Record<string, unknown>)) {
        if (typeof mv !== "string") {
          fail(`"__metadata__" value of ${JSON.stringify(mk)} is not a string.`);
        }
        setProp(metadata, mk, mv as string);
      }
      continue;
    }
    entries.push(parseEntry(key, info, fail));
  }
  // The offsets must tile the data section: sorted by offset, each starts where the last ended.
  const data = n - 8 - hlen;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) {
      fail(
        e.begin < pos
          ? `tensor ${JSON.stringify(e.name)} (bytes ${e.begin}..${e.end}) overlaps the tensor ` +
            `before it (which ends at ${pos}).`
          : `tensor ${JSON.stringify(e.name)} starts at byte ${e.begin} but the data before it ` +
            `ends at ${pos}: offsets must be contiguous.`,
      );
    }
    pos = e.end;
  }
  if (pos !== data) {
    fail(
      `the tensors cover ${pos} bytes of data but the file holds ${data} after the header: ` +
        `${pos > data ? "the file is truncated" : "unexpected trailing bytes"}.`,
    );
  }
  new Budget(op, name, budgetOf(op, options.maxBytes, n)).take(data, "the tensors' data");
  const device = options.device ?? "cpu";
  const tensors: Record<string, Tensor> = {};
  const start = 8 + hlen;
  try {
    for (const e of entries) {
      let raw = bytes.subarray(start + e.begin, start + e.end);
      if (e.dtype === "bool" && raw.some((v) => v > 1)) raw = raw.map((v) => (v ? 1 : 0));
      setProp(tensors, e.name, fromTyped(raw, e.shape, e.dtype, device, op));
    }
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

function parseEntry(name: string, info: unknown, fail: (what: string) => never): Entry {
  const what = `tensor ${JSON.stringify(name)}`;
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    fail(`${what} is not an object with dtype, shape and data_offsets.`);
  }
  const o = info as Record<string, unknown>;
  if (typeof o.dtype !== "string") fail(`${what} has no dtype string.`);
  const st = o.dtype as string;
  const dtype = FROM_ST[st];
  if (!dtype) {
    fail(
      UNSUPPORTED.has(st)
        ? `${what} has dtype ${st}, which is not supported (convert it before saving, e.g. ` +
          `to F32 or I64).`
        : `${what} has an unknown dtype ${JSON.stringify(st)}.`,
    );
  }
  const isIndex = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(o.shape) || !o.shape.every(isIndex)) {
    fail(`${what} has a shape that is not a list of non-negative integers.`);
  }
  const shape = o.shape as number[];
  if (shape.length > MAX_DIMS) fail(`${what} has ${shape.length} dimensions (limit ${MAX_DIMS}).`);
  const offs = o.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isIndex)) {
    fail(`${what} has data_offsets that are not a pair of non-negative integers.`);
  }
  const [begin, end] = offs as number[];
  if (end < begin) fail(`${what} has data_offsets [${begin}, ${end}] that end before they begin.`);
  // The byte size, exact up to 2^53 (beyond that it cannot match any offsets anyway).
  const itemsize = elementBytes(dtype);
  let bytes = shape.includes(0) ? 0 : itemsize;
  for (const d of shape) {
    bytes *= d;
    if (bytes > Number.MAX_SAFE_INTEGER) break;
  }
  if (bytes !== end - begin) {
    const need = bytes > Number.MAX_SAFE_INTEGER ? `more than 2^53` : String(bytes);
    fail(
      `${what}: shape ${fmtShape(shape)} of ${st} needs ${need} bytes but data_offsets ` +
        `[${begin}, ${end}] span ${end - begin}.`,
    );
  }
  return { name, dtype, shape, begin, end };
}

// ---- encode --------------------------------------------------------------------------------

function checkInputs(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> | undefined,
  op: string,
): [string, Tensor][] {
  if (tensors === null || typeof tensors !== "object") {
    throw new FormatError(`${op}: expected an object of tensors by name.`);
  }
  const list = Object.entries(tensors);
  for (const [k, t] of list) {
    if (!t || typeof t !== "object" || !("dtype" in t) || !(t.dtype in TO_ST)) {
      throw new FormatError(`${op}: ${JSON.stringify(k)} is not a tensor.`);
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new FormatError(
          `${op}: metadata value of ${JSON.stringify(k)} is a ${typeof v}; safetensors metadata ` +
            `holds strings only. Hint: JSON.stringify() it.`,
        );
      }
    }
  }
  // The reference order: larger dtypes first (keeps every tensor aligned), then by name.
  return list.sort(([a, ta], [b, tb]) =>
    RANK[TO_ST[tb.dtype]] - RANK[TO_ST[ta.dtype]] || (a < b ? -1 : a > b ? 1 : 0)
  );
}

function assemble(
  list: [string, Tensor][],
  data: TypedArray[],
  metadata: Record<string, string> | undefined,
): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let pos = 0;
  list.forEach(([name, t], i) => {
    const nb = data[i].byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${TO_ST[t.dtype]}","shape":${
        JSON.stringify(t.shape)
      },"data_offsets":[${pos},${pos + nb}]}`,
    );
    pos += nb;
  });
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const hlen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + hlen + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(hlen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + hlen);
  let p = 8 + hlen;
  for (const d of data) {
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}

/**
 * Encode tensors (and optional metadata strings) as the bytes of a `.safetensors` file, laid out
 * as the reference implementation lays them out. CPU tensors only (use
 * {@link saveSafetensors} for any device); non-contiguous tensors are written in C order.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, tensor } from "@aprender/compute";
 * const bytes = encodeSafetensors({ a: tensor([1, 2, 3]) });
 * console.log(bytes.length); // 80
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = checkInputs(tensors, metadata, "encodeSafetensors");
  return assemble(list, list.map(([, t]) => t.dataSync()), metadata);
}

/**
 * Save tensors (and optional metadata strings) as a `.safetensors` file that
 * `safetensors.torch.load_file` reads. Works for tensors on any device.
 *
 * @example
 * ```ts
 * import { loadSafetensors, saveSafetensors, tensor } from "@aprender/compute";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveSafetensors(path, { w: tensor([[1, 2]]), b: tensor([0]) }, { epoch: "1" });
 * const { tensors, metadata } = await loadSafetensors(path);
 * console.log(tensors.w.shape, metadata.epoch); // [1, 2] "1"
 * ```
 */
export async function saveSafetensors(
  path: string | URL,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const list = checkInputs(tensors, metadata, "saveSafetensors");
  const data = await Promise.all(list.map(([, t]) => t.data()));
  await writeOutput("saveSafetensors", path, assemble(list, data, metadata));
}

/**
 * Load a `.safetensors` file (a path, a `file:` URL, or the file's bytes): its tensors by name
 * and its metadata. See {@link decodeSafetensors} for the checks.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, loadSafetensors, tensor } from "@aprender/compute";
 * const bytes = encodeSafetensors({ x: tensor([1, 2], { dtype: "i64" }) });
 * const { tensors } = await loadSafetensors(bytes);
 * console.log(tensors.x.dtype, tensors.x.toArraySync()); // i64 [1, 2]
 * ```
 */
export async function loadSafetensors(
  pathOrBytes: string | URL | Uint8Array,
  options: SafetensorsReadOptions = {},
): Promise<SafetensorsFile> {
  const { bytes, name } = await readInput(pathOrBytes, "loadSafetensors");
  return decodeAs(bytes, { ...options, name: options.name ?? name }, "loadSafetensors");
}
