/**
 * NumPy's `.npy` format: one array per file (format versions 1.0, 2.0 and 3.0 on read).
 *
 * The header is a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`; it is read by a small strict
 * parser of the literal subset NumPy writes (never evaluated). Every size in the header is checked
 * against the file's actual length before anything is allocated, so a malformed file gives a
 * {@link FormatError} naming the file and what was wrong.
 *
 * @module
 */
import { type DType, DTYPES, elementBytes, type TypedArray } from "../core/dtype.ts";
import { DTypeError, fmtShape, FormatError } from "../core/errors.ts";
import { fromTyped } from "../core/ops/creation.ts";
import {
  Budget,
  budgetOf,
  type BudgetOptions,
  enumTable,
  readInput as readPath,
  writeOutput,
} from "./budget.ts";
import type { Tensor } from "../core/tensor.ts";

/** The 6 bytes every `.npy` file starts with: `\x93NUMPY`. */
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** NumPy aligns the data to 64 bytes. */
const ARRAY_ALIGN = 64;
/** NumPy leaves room for the first axis to grow to this many digits. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** NumPy's limit on the number of dimensions. */
const MAX_DIMS = 64;
/** Nesting limit of the header literal (NumPy's headers nest 3 deep at most). */
const MAX_DEPTH = 16;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Options of {@link decodeNpy} and {@link loadNpy}. */
export interface NpyReadOptions extends BudgetOptions {
  /** Name used in error messages (default: the path, or "<bytes>"). */
  name?: string;
  /** Device to create the tensor on (default "cpu"). */
  device?: string;
}

// ---- header literal parser ---------------------------------------------------------------

/** A value of the Python literal subset found in `.npy` headers. */
type PyValue =
  | { kind: "str"; value: string }
  | { kind: "int"; value: bigint }
  | { kind: "bool"; value: boolean }
  | { kind: "none" }
  | { kind: "tuple"; items: PyValue[] }
  | { kind: "list"; items: PyValue[] }
  | { kind: "dict"; entries: [string, PyValue][] };

class LiteralParser {
  p = 0;
  constructor(readonly s: string, readonly fail: (what: string) => never) {}

  ws(): void {
    while (this.p < this.s.length) {
      const c = this.s[this.p];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.p++;
      else break;
    }
  }
  expected(what: string): never {
    const got = this.p < this.s.length ? JSON.stringify(this.s[this.p]) : "the end";
    return this.fail(
      `header is not a valid Python dict literal: expected ${what} at ` +
        `character ${this.p}, found ${got}.`,
    );
  }
  eat(c: string): boolean {
    this.ws();
    if (this.s[this.p] === c) {
      this.p++;
      return true;
    }
    return false;
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail(`header literal nests deeper than ${MAX_DEPTH} levels.`);
    this.ws();
    const c = this.s[this.p];
    if (c === "{") return this.dict(depth);
    if (c === "(" || c === "[") return this.sequence(depth);
    if (c === "'" || c === '"') return { kind: "str", value: this.string() };
    if (c === "-" || (c >= "0" && c <= "9")) return { kind: "int", value: this.int() };
    for (const [word, v] of [["True", true], ["False", false], ["None", null]] as const) {
      if (
        this.s.startsWith(word, this.p) && !/[A-Za-z0-9_]/.test(this.s[this.p + word.length] ?? "")
      ) {
        this.p += word.length;
        return v === null ? { kind: "none" } : { kind: "bool", value: v };
      }
    }
    return this.expected("a string, integer, True, False, None, tuple, list or dict");
  }

  dict(depth: number): PyValue {
    this.p++; // {
    const entries: [string, PyValue][] = [];
    while (!this.eat("}")) {
      this.ws();
      if (this.s[this.p] !== "'" && this.s[this.p] !== '"') this.expected("a string key or '}'");
      const key = this.string();
      if (!this.eat(":")) this.expected("':'");
      entries.push([key, this.value(depth + 1)]);
      if (!this.eat(",")) {
        if (!this.eat("}")) this.expected("',' or '}'");
        break;
      }
    }
    return { kind: "dict", entries };
  }

  sequence(depth: number): PyValue {
    const open = this.s[this.p++];
    const close = open === "(" ? ")" : "]";
    const items: PyValue[] = [];
    let trailingComma = false;
    while (!this.eat(close)) {
      items.push(this.value(depth + 1));
      trailingComma = this.eat(",");
      if (!trailingComma) {
        if (!this.eat(close)) this.expected(`',' or '${close}'`);
        break;
      }
    }
    // Python: `(3)` is the integer 3; a one-element tuple needs its comma.
    if (open === "(" && items.length === 1 && !trailingComma) return items[0];
    return { kind: open === "(" ? "tuple" : "list", items };
  }

  string(): string {
    const q = this.s[this.p++];
    let out = "";
    while (true) {
      if (this.p >= this.s.length) this.fail("header has an unterminated string.");
      const c = this.s[this.p++];
      if (c === q) return out;
      if (c === "\n") this.fail("header has a string broken by a newline.");
      if (c === "\\") {
        const e = this.s[this.p++];
        if (e === "\\" || e === "'" || e === '"') out += e;
        else if (e === "n") out += "\n";
        else if (e === "t") out += "\t";
        else this.fail(`header string has an unsupported escape "\\${e ?? ""}".`);
      } else out += c;
    }
  }

  int(): bigint {
    const start = this.p;
    if (this.s[this.p] === "-") this.p++;
    const digits = this.p;
    while (this.p < this.s.length && this.s[this.p] >= "0" && this.s[this.p] <= "9") this.p++;
    if (this.p === digits) this.expected("a digit");
    if (this.p - digits > 40) this.fail("header has an integer with more than 40 digits.");
    const v = BigInt(this.s.slice(start, this.p));
    // Python 2 wrote long integers with an L suffix.
    if (this.s[this.p] === "L" || this.s[this.p] === "l") this.p++;
    return v;
  }
}

/** Parse the header dict; `fail` throws the FormatError. */
function parseHeader(
  text: string,
  fail: (what: string) => never,
): { descr: PyValue; fortran: boolean; shape: number[] } {
  const parser = new LiteralParser(text, fail);
  parser.ws();
  if (parser.s[parser.p] !== "{") parser.expected("'{'");
  const dict = parser.value(0);
  parser.ws();
  if (parser.p !== text.length) parser.expected("the end of the header");
  if (dict.kind !== "dict") return fail("header is not a dict.");
  const keys = new Map<string, PyValue>();
  for (const [k, v] of dict.entries) {
    if (keys.has(k)) fail(`header repeats the key '${k}'.`);
    keys.set(k, v);
  }
  const want = ["descr", "fortran_order", "shape"];
  const names = [...keys.keys()].sort();
  if (names.length !== 3 || names.some((k, i) => k !== want[i])) {
    fail(`header keys are [${names.join(", ")}]; expected exactly descr, fortran_order, shape.`);
  }
  const fo = keys.get("fortran_order")!;
  if (fo.kind !== "bool") fail("'fortran_order' is not True or False.");
  const sh = keys.get("shape")!;
  if (sh.kind !== "tuple") fail("'shape' is not a tuple of integers.");
  if (sh.items.length > MAX_DIMS) {
    fail(`'shape' has ${sh.items.length} dimensions; NumPy allows at most ${MAX_DIMS}.`);
  }
  const shape: number[] = [];
  for (const d of sh.items) {
    if (d.kind !== "int") return fail("'shape' is not a tuple of integers.");
    if (d.value < 0n) fail(`'shape' has a negative dimension ${d.value}.`);
    if (d.value > BigInt(Number.MAX_SAFE_INTEGER)) {
      fail(`'shape' has an absurd dimension ${d.value}.`);
    }
    shape.push(Number(d.value));
  }
  return { descr: keys.get("descr")!, fortran: (fo as { value: boolean }).value, shape };
}

// ---- descr ---------------------------------------------------------------------------------

const FROM_NUMPY: Readonly<Record<string, DType>> = enumTable(
  Object.fromEntries(
    Object.values(DTYPES).filter((i) => i.numpy).map((i) => [i.numpy as string, i.name]),
  ),
);

const UNSUPPORTED_KINDS: Readonly<Record<string, string>> = enumTable({
  O: "object arrays need pickle, which is not supported",
  c: "complex dtypes are not supported",
  U: "unicode string dtypes are not supported",
  S: "byte string dtypes are not supported",
  a: "byte string dtypes are not supported",
  V: "void (raw bytes) dtypes are not supported (ml_dtypes' bfloat16 is stored this way; " +
    "convert with .astype(np.float32) before saving)",
  M: "datetime dtypes are not supported",
  m: "timedelta dtypes are not supported",
});

/** Our dtype and whether the data must be byte-swapped. */
function parseDescr(
  descr: PyValue,
  fail: (what: string) => never,
): { dtype: DType; swap: boolean } {
  if (descr.kind === "list" || descr.kind === "tuple") {
    fail("structured (record) dtypes are not supported.");
  }
  if (descr.kind !== "str") return fail("'descr' is not a string.");
  const s = descr.value;
  let order = "=", body = s;
  if (s.length > 0 && "<>|=".includes(s[0])) {
    order = s[0];
    body = s.slice(1);
  }
  if (body === "?") body = "b1";
  const dtype = FROM_NUMPY[body];
  if (!dtype) {
    const kind = body[0] ?? "";
    if (body === "u8") {
      fail("dtype uint64 ('u8') is not supported; convert it to int64 or float64.");
    }
    if (/^f(10|12|16)$/.test(body)) fail(`extended-precision float '${s}' is not supported.`);
    if (UNSUPPORTED_KINDS[kind]) fail(`dtype '${s}': ${UNSUPPORTED_KINDS[kind]}.`);
    fail(`unknown dtype descr '${s}'.`);
  }
  const bytes = elementBytes(dtype);
  const big = order === ">";
  const little = order === "<";
  const swap = bytes > 1 && ((big && LITTLE_ENDIAN_HOST) || (little && !LITTLE_ENDIAN_HOST));
  return { dtype, swap };
}

function descrOf(dtype: DType, op: string): string {
  const info = DTYPES[dtype];
  if (!info.numpy) {
    throw new DTypeError(
      `${op}: dtype ${dtype} has no NumPy equivalent, so it cannot be stored in .npy. ` +
        `Hint: convert it first with t.astype("f32") (exact for bf16).`,
    );
  }
  if (elementBytes(dtype) === 1) return `|${info.numpy}`;
  return `${LITTLE_ENDIAN_HOST ? "<" : ">"}${info.numpy}`;
}

// ---- decode --------------------------------------------------------------------------------

/**
 * Decode the bytes of a `.npy` file into a tensor (versions 1.0, 2.0 and 3.0; any byte order;
 * C or Fortran order: a Fortran-order array comes back as a transposed view with the same
 * logical layout). Malformed input throws a {@link FormatError} naming what was wrong.
 *
 * @example
 * ```ts
 * import { decodeNpy, encodeNpy, tensor } from "@aprender/compute";
 * const bytes = encodeNpy(tensor([[1, 2], [3, 4]], { dtype: "i32" }));
 * const t = decodeNpy(bytes);
 * console.log(t.dtype, t.toArraySync()); // i32 [[1, 2], [3, 4]]
 * ```
 */
export function decodeNpy(bytes: Uint8Array, options: NpyReadOptions = {}): Tensor {
  return decodeNpyAs(bytes, options, "decodeNpy");
}

/** {@link decodeNpy} with the calling op's name in error messages. */
export function decodeNpyAs(bytes: Uint8Array, options: NpyReadOptions, op: string): Tensor {
  const name = options.name ?? "<bytes>";
  const fail = (what: string): never => {
    throw new FormatError(`${op}: ${name}: ${what}`);
  };
  if (!(bytes instanceof Uint8Array)) fail("expected a Uint8Array of the file's bytes.");
  const n = bytes.length;
  if (n < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail(
      n < 10 && MAGIC.slice(0, n).every((b, i) => bytes[i] === b)
        ? `file is truncated (${n} bytes; the preamble alone is 10).`
        : "not a .npy file: missing the magic string \\x93NUMPY.",
    );
  }
  const major = bytes[6], minor = bytes[7];
  if (!(major >= 1 && major <= 3) || minor !== 0) {
    fail(`unsupported format version ${major}.${minor}; expected 1.0, 2.0 or 3.0.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number, hstart: number;
  if (major === 1) {
    hlen = view.getUint16(8, true);
    hstart = 10;
  } else {
    if (n < 12) fail(`file is truncated (${n} bytes; a version ${major}.0 preamble is 12).`);
    hlen = view.getUint32(8, true);
    hstart = 12;
  }
  if (hstart + hlen > n) {
    fail(`header declares ${hlen} bytes but only ${n - hstart} follow: the file is truncated.`);
  }
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true })
      .decode(bytes.subarray(hstart, hstart + hlen));
  } catch {
    return fail("header is not valid UTF-8.");
  }
  const header = parseHeader(text, fail);
  const { dtype, swap } = parseDescr(header.descr, fail);
  const { shape, fortran } = header;
  const itemsize = elementBytes(dtype);
  // Size with an overflow check: stop as soon as it exceeds what the file holds.
  const available = n - (hstart + hlen);
  let size = shape.includes(0) ? 0 : 1;
  if (size) {
    for (const d of shape) {
      size *= d;
      if (size * itemsize > available) {
        fail(
          `shape ${fmtShape(shape)} of ${dtype} needs more data than the ${available} bytes ` +
            `after the header: the file is truncated or its shape is wrong.`,
        );
      }
    }
  }
  const nbytes = size * itemsize;
  // A shape with no dimensions (a scalar) skips the loop above: check its one element too.
  if (nbytes > available) {
    fail(
      `shape ${fmtShape(shape)} of ${dtype} needs ${nbytes} bytes but ${available} follow the ` +
        `header: the file is truncated.`,
    );
  }
  new Budget(op, name, budgetOf(op, options.maxBytes, n)).take(nbytes, "the array");
  const start = hstart + hlen;
  let raw = bytes.subarray(start, start + nbytes);
  if (swap) {
    raw = raw.slice();
    for (let i = 0; i < nbytes; i += itemsize) {
      for (let a = i, b = i + itemsize - 1; a < b; a++, b--) {
        const t = raw[a];
        raw[a] = raw[b];
        raw[b] = t;
      }
    }
  }
  if (dtype === "bool" && raw.some((v) => v > 1)) raw = raw.map((v) => (v ? 1 : 0));
  const device = options.device ?? "cpu";
  if (!fortran || shape.length < 2) return fromTyped(raw, shape, dtype, device);
  // Fortran order: the data is the C-order layout of the reversed shape.
  const base = fromTyped(raw, [...shape].reverse(), dtype, device);
  const t = base.T;
  base.dispose();
  return t;
}

// ---- encode --------------------------------------------------------------------------------

function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/** The header bytes NumPy's `np.save` writes for this dtype and shape (byte-identical). */
function npyHeader(descr: string, shape: readonly number[]): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  if (shape.length > 0) dict += " ".repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  let major = 1;
  let lenBytes = 2;
  let hlen = dict.length + 1;
  let pad = ARRAY_ALIGN - ((6 + 2 + lenBytes + hlen) % ARRAY_ALIGN);
  if (hlen + pad > 0xffff) {
    major = 2;
    lenBytes = 4;
    pad = ARRAY_ALIGN - ((6 + 2 + lenBytes + hlen) % ARRAY_ALIGN);
  }
  hlen += pad;
  const out = new Uint8Array(6 + 2 + lenBytes + hlen);
  out.set(MAGIC);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, hlen, true);
  else view.setUint32(8, hlen, true);
  const p = 8 + lenBytes;
  for (let i = 0; i < dict.length; i++) out[p + i] = dict.charCodeAt(i);
  out.fill(0x20, p + dict.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}

/** `.npy` bytes for a tensor whose C-order elements are `data`. */
export function npyFromData(t: Tensor, data: TypedArray, op: string): Uint8Array {
  const header = npyHeader(descrOf(t.dtype, op), t.shape);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/**
 * Encode a tensor as the bytes of a `.npy` file (version 1.0, or 2.0 when the header needs more
 * than 65535 bytes), with the same bytes `np.save` writes. A non-contiguous tensor is written in
 * its logical C order. CPU tensors only (use {@link saveNpy} for any device). bf16 has no NumPy
 * dtype and throws a DTypeError: convert with `astype("f32")` first.
 *
 * @example
 * ```ts
 * import { encodeNpy, tensor } from "@aprender/compute";
 * const bytes = encodeNpy(tensor([1.5, 2.5]));
 * console.log(bytes.length); // 136
 * ```
 */
export function encodeNpy(t: Tensor): Uint8Array {
  descrOf(t.dtype, "encodeNpy");
  return npyFromData(t, t.dataSync(), "encodeNpy");
}

// ---- files ---------------------------------------------------------------------------------

/** Read a path, or take bytes as they are. */
export function readInput(
  pathOrBytes: string | URL | Uint8Array,
  op = "load",
): Promise<{ bytes: Uint8Array; name: string }> {
  return readPath(pathOrBytes, op);
}

/**
 * Load a `.npy` file (a path, a `file:` URL, or the file's bytes) into a tensor. See
 * {@link decodeNpy} for what is accepted; malformed files throw a {@link FormatError} naming the
 * file.
 *
 * @example
 * ```ts
 * import { loadNpy, saveNpy, tensor } from "@aprender/compute";
 * const path = await Deno.makeTempFile({ suffix: ".npy" });
 * await saveNpy(path, tensor([[1, 2], [3, 4]]));
 * const t = await loadNpy(path);
 * console.log(t.shape, t.dtype); // [2, 2] "f32"
 * ```
 */
export async function loadNpy(
  pathOrBytes: string | URL | Uint8Array,
  options: NpyReadOptions = {},
): Promise<Tensor> {
  const { bytes, name } = await readInput(pathOrBytes, "loadNpy");
  return decodeNpyAs(bytes, { ...options, name: options.name ?? name }, "loadNpy");
}

/**
 * Save a tensor as a `.npy` file that `np.load` reads (the same bytes `np.save` writes). Works
 * for tensors on any device; bf16 throws a DTypeError (convert with `astype("f32")` first).
 *
 * @example
 * ```ts
 * import { arange, saveNpy } from "@aprender/compute";
 * const path = await Deno.makeTempFile({ suffix: ".npy" });
 * await saveNpy(path, arange(6).reshape([2, 3]));
 * console.log((await Deno.stat(path)).size); // 152
 * ```
 */
export async function saveNpy(path: string | URL, t: Tensor): Promise<void> {
  descrOf(t.dtype, "saveNpy");
  await writeOutput("saveNpy", path, npyFromData(t, await t.data(), "saveNpy"));
}
