/**
 * GGUF writer (version 3, little-endian), the layout llama.cpp's `gguf_write_to_file` and
 * gguf-py's `GGUFWriter` produce: header, metadata, tensor table, padding to the alignment, then
 * each tensor's data padded to the alignment. Tensor data is streamed: one tensor (or a producer
 * of it) at a time, quantized in bounded chunks, so a model far larger than memory can be written.
 *
 * @module
 */
import { type DType, elementBytes, type TypedArray } from "../../core/dtype.ts";
import { FormatError, ShapeError } from "../../core/errors.ts";
import { f32ToBF16Row, f32ToF16Row } from "../../core/quant/half.ts";
import { BLOCK_CODECS } from "../../core/quant/mod.ts";
import { encodeBlocks } from "./encode.ts";
import { ioError } from "../budget.ts";
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  ggmlTypeId,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_TYPE_IDS,
  type GgufArray,
  type GgufTensorType,
  type GgufValue,
  type GgufValueType,
  isBlockType,
  typeLayout,
} from "./types.ts";

/** A metadata value: typed (`{ type: "u32", value: 5 }`) or plain, its type inferred. */
export type GgufValueInput =
  | GgufValue
  | string
  | boolean
  | number
  | bigint
  | TypedArray
  | readonly string[]
  | readonly number[]
  | readonly boolean[];

/** The data of a tensor to write, or a (possibly async) function producing it when its turn comes. */
export type GgufTensorData = Float32Array | Uint8Array | TypedArray;

/** One tensor to write. */
export interface GgufTensorInput {
  /** Tensor name (at most 63 bytes). */
  name: string;
  /** Row-major shape (the file stores it reversed, as ggml's `ne`). */
  shape: readonly number[];
  /** Storage type in the file (default f32). */
  type?: GgufTensorType;
  /**
   * The values: a Float32Array is converted or quantized to `type`; a Uint8Array is the packed
   * bytes of `type` as they go into the file; another typed array holds `type`'s elements.
   */
  data: GgufTensorData | (() => GgufTensorData | Promise<GgufTensorData>);
}

/** What {@link saveGguf} writes. */
export interface GgufWriteInput {
  /** Metadata, in insertion order. */
  metadata?: Record<string, GgufValueInput> | Map<string, GgufValueInput>;
  /** Tensors, in file order. */
  tensors?: readonly GgufTensorInput[];
  /** Data alignment (power of two; default 32, or `general.alignment` if given). */
  alignment?: number;
  /** Called after each tensor with (tensors done, total) — for progress bars. */
  onProgress?: (done: number, total: number) => void;
}

const enc = new TextEncoder();

class Out {
  parts: Uint8Array[] = [];
  size = 0;
  private scratch = new DataView(new ArrayBuffer(8));
  push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
  }
  num(kind: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64", v: number) {
    const s = this.scratch;
    const n = kind === "f64" ? 8 : kind.endsWith("8") ? 1 : kind.endsWith("16") ? 2 : 4;
    switch (kind) {
      case "u8":
        s.setUint8(0, v);
        break;
      case "i8":
        s.setInt8(0, v);
        break;
      case "u16":
        s.setUint16(0, v, true);
        break;
      case "i16":
        s.setInt16(0, v, true);
        break;
      case "u32":
        s.setUint32(0, v, true);
        break;
      case "i32":
        s.setInt32(0, v, true);
        break;
      case "f32":
        s.setFloat32(0, v, true);
        break;
      case "f64":
        s.setFloat64(0, v, true);
    }
    this.push(new Uint8Array(s.buffer.slice(0, n)));
  }
  u64(v: bigint, signed = false) {
    const b = new DataView(new ArrayBuffer(8));
    if (signed) b.setBigInt64(0, v, true);
    else b.setBigUint64(0, v, true);
    this.push(new Uint8Array(b.buffer));
  }
  str(s: string) {
    const b = enc.encode(s);
    this.u64(BigInt(b.length));
    this.push(b);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const isTyped = (v: unknown): v is TypedArray => ArrayBuffer.isView(v) && !(v instanceof DataView);

/**
 * The GGUF typed form of a metadata input (plain values get the type gguf-py would pick).
 *
 * @example
 * ```ts
 * import { toGgufValue } from "@aprender/compute/io";
 * console.log(toGgufValue("k", 5e9)); // { type: "u64", value: 5000000000n }
 * ```
 */
export function toGgufValue(key: string, v: GgufValueInput): GgufValue {
  if (typeof v === "string") return { type: "string", value: v };
  if (typeof v === "boolean") return { type: "bool", value: v };
  if (typeof v === "bigint") return { type: v < 0n ? "i64" : "u64", value: v };
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) return { type: "u32", value: v };
    if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return { type: "i32", value: v };
    // larger integers keep every digit as 64-bit ints (f32 would round 5e9 to 4999999488)
    if (Number.isSafeInteger(v)) return { type: v < 0 ? "i64" : "u64", value: BigInt(v) };
    return { type: "f32", value: v };
  }
  if (isTyped(v)) return { type: "array", value: typedArrayValue(key, v) };
  if (Array.isArray(v)) {
    const items = v as readonly unknown[];
    if (items.every((x) => typeof x === "string")) {
      return { type: "array", value: { itemType: "string", items: [...items] as string[] } };
    }
    if (items.every((x) => typeof x === "boolean")) {
      return { type: "array", value: { itemType: "bool", items: [...items] as boolean[] } };
    }
    if (items.every((x) => typeof x === "number")) {
      const nums = items as number[];
      const ints = nums.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31);
      return {
        type: "array",
        value: ints
          ? { itemType: "i32", items: Int32Array.from(nums) }
          : { itemType: "f32", items: Float32Array.from(nums) },
      };
    }
  }
  if (typeof v === "object" && v !== null && "type" in v && "value" in v) {
    const t = (v as GgufValue).type;
    if (Object.hasOwn(GGUF_TYPE_IDS, t)) return v as GgufValue;
  }
  throw new FormatError(
    `saveGguf: metadata "${key}": cannot store ${Object.prototype.toString.call(v)}; hint: ` +
      `pass { type, value } with a GGUF type (u8 … f64, string, array)`,
  );
}

function typedArrayValue(key: string, v: TypedArray): GgufArray {
  const map: [new (...a: never[]) => unknown, GgufValueType][] = [
    [Uint8Array, "u8"],
    [Int8Array, "i8"],
    [Uint16Array, "u16"],
    [Int16Array, "i16"],
    [Uint32Array, "u32"],
    [Int32Array, "i32"],
    [Float32Array, "f32"],
    [BigUint64Array, "u64"],
    [BigInt64Array, "i64"],
    [Float64Array, "f64"],
  ];
  for (const [C, t] of map) if (v instanceof C) return { itemType: t, items: v as never };
  throw new FormatError(`saveGguf: metadata "${key}": no GGUF array type for this typed array`);
}

function writeValue(o: Out, key: string, v: GgufValue): void {
  o.num("u32", GGUF_TYPE_IDS[v.type]);
  if (v.type === "array") writeArray(o, key, v.value, 0);
  else writeScalar(o, v.type, v.value);
}

function writeScalar(o: Out, t: GgufValueType, v: unknown): void {
  switch (t) {
    case "string":
      return o.str(v as string);
    case "bool":
      return o.num("u8", v ? 1 : 0);
    case "u64":
      return o.u64(BigInt(v as bigint));
    case "i64":
      return o.u64(BigInt(v as bigint), true);
    default:
      return o.num(t as "u8", v as number);
  }
}

function writeArray(o: Out, key: string, a: GgufArray, depth: number): void {
  if (depth > 64) throw new FormatError(`saveGguf: metadata "${key}": arrays nested too deep`);
  o.num("u32", GGUF_TYPE_IDS[a.itemType]);
  o.u64(BigInt(a.items.length));
  if (isTyped(a.items)) {
    const b = a.items as TypedArray;
    o.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice());
    return;
  }
  for (const item of a.items as unknown[]) {
    if (a.itemType === "array") writeArray(o, key, item as GgufArray, depth + 1);
    else writeScalar(o, a.itemType, item);
  }
}

interface Planned {
  input: GgufTensorInput;
  type: GgufTensorType;
  nel: number;
  nbytes: number;
  offset: number;
}

function plan(t: GgufTensorInput, offset: number): Planned {
  const type = t.type ?? "f32";
  const nameBytes = enc.encode(t.name).length;
  if (nameBytes === 0 || nameBytes >= GGML_MAX_NAME) {
    throw new FormatError(
      `saveGguf: tensor name "${t.name}" is ${nameBytes} bytes; GGUF names are 1..63 bytes`,
    );
  }
  if (t.shape.length > GGML_MAX_DIMS) {
    throw new ShapeError(
      `saveGguf: tensor "${t.name}" has ${t.shape.length} dimensions [${t.shape}]; ggml ` +
        `allows at most 4; hint: reshape it first`,
    );
  }
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`saveGguf: tensor "${t.name}" has a bad dimension ${d} in [${t.shape}]`);
    }
  }
  const nel = t.shape.reduce((a, b) => a * b, 1);
  const { blockSize, blockBytes } = typeLayout(type);
  const row = t.shape.length ? t.shape[t.shape.length - 1] : 1;
  if (row % blockSize !== 0) {
    throw new ShapeError(
      `saveGguf: tensor "${t.name}" [${t.shape}] as ${type}: rows of ${row} are not a whole ` +
        `number of blocks of ${blockSize}; hint: keep it f32/f16 (llama-quantize does)`,
    );
  }
  ggmlTypeId(type);
  return { input: t, type, nel, nbytes: (nel / blockSize) * blockBytes, offset };
}

/** Elements quantized per step: bounded memory whatever the tensor size. */
const STEP = 1 << 20;

/** The packed bytes of one tensor, produced in pieces (the caller writes each). */
async function* packTensor(p: Planned): AsyncGenerator<Uint8Array> {
  const raw = typeof p.input.data === "function" ? await p.input.data() : p.input.data;
  const { name } = p.input;
  if (raw instanceof Float32Array && p.type !== "f32") {
    if (raw.length !== p.nel) {
      throw new ShapeError(
        `saveGguf: tensor "${name}" [${p.input.shape}] needs ${p.nel} values, got ${raw.length}`,
      );
    }
    const { blockSize, blockBytes } = typeLayout(p.type);
    const step = Math.max(blockSize, Math.floor(STEP / blockSize) * blockSize);
    for (let i = 0; i < p.nel; i += step) {
      const src = raw.subarray(i, Math.min(p.nel, i + step));
      const out = new Uint8Array((src.length / blockSize) * blockBytes);
      if (isBlockType(p.type)) {
        if (BLOCK_CODECS[p.type].quantize === null) {
          throw new FormatError(
            `saveGguf: tensor "${name}": no quantizer for ${p.type}; hint: pass its packed bytes`,
          );
        }
        encodeBlocks(p.type, src, out);
      } else if (p.type === "f16") f32ToF16Row(src, out);
      else if (p.type === "bf16") f32ToBF16Row(src, out);
      else if (p.type === "f64") new Float64Array(out.buffer).set(src);
      else {
        throw new FormatError(
          `saveGguf: tensor "${name}": f32 values cannot be stored as ${p.type}; hint: pass a ` +
            `typed array of that type`,
        );
      }
      yield out;
    }
    return;
  }
  if (!isTyped(raw)) {
    throw new FormatError(`saveGguf: tensor "${name}": data is not a typed array`);
  }
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (bytes.length !== p.nbytes) {
    const what = raw instanceof Uint8Array ? "packed bytes" : `bytes of ${raw.constructor.name}`;
    throw new ShapeError(
      `saveGguf: tensor "${name}" [${p.input.shape}] as ${p.type} takes ${p.nbytes} bytes, got ` +
        `${bytes.length} ${what}`,
    );
  }
  if (!isBlockType(p.type) && !(raw instanceof Uint8Array)) {
    const per = elementBytes(p.type as DType, "saveGguf");
    if (raw.BYTES_PER_ELEMENT !== per) {
      throw new FormatError(
        `saveGguf: tensor "${name}": ${raw.constructor.name} does not hold ${p.type} elements`,
      );
    }
  }
  yield bytes;
}

/**
 * Write a GGUF v3 file. Metadata values keep their given GGUF types (plain values are typed as
 * string, bool, u32/i32/f32, u64/i64, or arrays of those); tensors are streamed one at a time.
 *
 * @example
 * ```ts
 * import { openGguf, saveGguf } from "@aprender/compute/io";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await saveGguf(path, {
 *   metadata: { "general.architecture": "llama", "llama.block_count": { type: "u32", value: 2 } },
 *   tensors: [{ name: "w", shape: [2, 32], type: "q8_0", data: new Float32Array(64).fill(0.5) }],
 * });
 * using f = await openGguf(path);
 * console.log(f.tensors[0].type, f.readTensor("w").shape); // q8_0 [2, 32]
 * ```
 */
export async function saveGguf(path: string | URL, input: GgufWriteInput): Promise<void> {
  const entries = input.metadata instanceof Map
    ? [...input.metadata]
    : Object.entries(input.metadata ?? {});
  const meta = entries.map(([k, v]) => [k, toGgufValue(k, v)] as const);
  let alignment = input.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const given = meta.find(([k]) => k === "general.alignment");
  if (given) {
    if (given[1].type !== "u32") {
      throw new FormatError(`saveGguf: general.alignment must be u32, got ${given[1].type}`);
    }
    alignment = given[1].value as number;
  }
  if (!Number.isSafeInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new FormatError(`saveGguf: alignment ${alignment} is not a power of two`);
  }
  if (!given && alignment !== GGUF_DEFAULT_ALIGNMENT) {
    meta.push(["general.alignment", { type: "u32", value: alignment }]);
  }
  const keys = new Set<string>();
  for (const [k] of meta) {
    if (keys.has(k)) throw new FormatError(`saveGguf: duplicate metadata key "${k}"`);
    keys.add(k);
  }
  const tensors = input.tensors ?? [];
  const plans: Planned[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new FormatError(`saveGguf: duplicate tensor name "${t.name}"`);
    names.add(t.name);
    const p = plan(t, offset);
    offset += Math.ceil(p.nbytes / alignment) * alignment;
    plans.push(p);
  }
  const h = new Out();
  h.num("u32", GGUF_MAGIC);
  h.num("u32", 3);
  h.u64(BigInt(plans.length));
  h.u64(BigInt(meta.length));
  for (const [k, v] of meta) {
    h.str(k);
    writeValue(h, k, v);
  }
  for (const p of plans) {
    h.str(p.input.name);
    h.num("u32", p.input.shape.length);
    for (let d = p.input.shape.length - 1; d >= 0; d--) h.u64(BigInt(p.input.shape[d]));
    h.num("u32", ggmlTypeId(p.type));
    h.u64(BigInt(p.offset));
  }
  if (plans.length > 0) h.push(new Uint8Array((alignment - (h.size % alignment)) % alignment));
  const file = await Deno.open(path, { write: true, create: true, truncate: true }).catch((e) => {
    throw ioError("saveGguf", path instanceof URL ? path.href : String(path), e, "write");
  });
  try {
    await writeAll(file, h.bytes());
    let done = 0;
    for (const p of plans) {
      let n = 0;
      for await (const piece of packTensor(p)) {
        await writeAll(file, piece);
        n += piece.length;
      }
      const pad = (alignment - (n % alignment)) % alignment;
      if (pad) await writeAll(file, new Uint8Array(pad));
      input.onProgress?.(++done, plans.length);
    }
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, b: Uint8Array): Promise<void> {
  let o = 0;
  while (o < b.length) o += await file.write(b.subarray(o));
}

/**
 * The bytes GGUF stores for a metadata value: its u32 type id, then the payload.
 *
 * @example
 * ```ts
 * import { encodeGgufValue } from "@aprender/compute/io";
 * console.log(encodeGgufValue({ type: "u8", value: 7 })); // Uint8Array [0, 0, 0, 0, 7]
 * ```
 */
export function encodeGgufValue(v: GgufValue): Uint8Array {
  const o = new Out();
  writeValue(o, "", v);
  return o.bytes();
}
