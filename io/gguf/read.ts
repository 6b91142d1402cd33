/**
 * GGUF reader (versions 2 and 3), lazy: opening a file reads the header and the tensor table
 * only, in chunks; a tensor's bytes are read by offset when asked. Every count, length, dimension,
 * offset and size is checked against the file before anything is allocated from it (the classes
 * of llama.cpp's GGUF CVEs: wrapped counts and sizes, `n_dims` over the maximum, `nelements ×
 * type size` overflow, overlapping or out-of-file offsets), and a malformed file gives a
 * {@link FormatError} naming the field and its byte offset.
 *
 * Size budget: every read allocates at most what the file really holds for that tensor (its
 * bytes, or its f32 decoding: the codec's fixed ratio, up to ~20× for 1.5-bit types), so the
 * default never refuses a genuine file. `maxBytes` (on open, or per read) caps what one read may
 * allocate, validated and refused with a FormatError like every loader's budget (io/budget.ts).
 *
 * @module
 */
import type { BlockDType, StorageDType } from "../../core/dtype.ts";
import { FormatError } from "../../core/errors.ts";
import { Budget, budgetOf, type BudgetOptions, openFile } from "../budget.ts";
import { fromBlocks, fromTyped } from "../../core/ops/creation.ts";
import { BLOCK_CODECS } from "../../core/quant/mod.ts";
import type { Tensor } from "../../core/tensor.ts";
import { Cursor, MIN_KV_BYTES, MIN_TENSOR_BYTES } from "./cursor.ts";
import { fileSource, type GgufSource, memorySource } from "./source.ts";
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  ggmlTypeById,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  type GgufArrayItems,
  type GgufTensorInfo,
  type GgufValue,
  isBlockType,
  REMOVED_GGML_TYPES,
  typeLayout,
} from "./types.ts";

export { type GgufSource, memorySource } from "./source.ts";

/** What the header and tensor table of a GGUF file say. */
export interface GgufHeader {
  /** Format version (2 or 3). */
  readonly version: number;
  /** Metadata in file order. */
  readonly metadata: Map<string, GgufValue>;
  /** Tensor table in file order. */
  readonly tensors: GgufTensorInfo[];
  /** Alignment of tensor data (`general.alignment`, default 32). */
  readonly alignment: number;
  /** File offset of the data section. */
  readonly dataOffset: number;
}

/**
 * Parse and check the header and tensor table of a GGUF file from `src` (reads nothing else).
 *
 * @example
 * ```ts
 * import { memorySource, parseGgufHeader } from "@aprender/compute/io";
 * try {
 *   parseGgufHeader(memorySource(new Uint8Array(4)));
 * } catch (e) {
 *   console.log((e as Error).name); // "FormatError"
 * }
 * ```
 */
export function parseGgufHeader(src: GgufSource, name = "<bytes>"): GgufHeader {
  const c = new Cursor(src, name);
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    c.fail("magic", `bytes are 0x${magic.toString(16)}; expected "GGUF"; not a GGUF file`, 0);
  }
  const version = c.u32("version");
  if (version !== 2 && version !== 3) {
    const hint = version === 1
      ? "GGUF v1 is no longer supported (llama.cpp dropped it); re-convert the model"
      : (version & 0xffff) === 0
      ? "it looks byte-swapped: big-endian GGUF files are not supported"
      : "this library reads versions 2 and 3";
    c.fail("version", `version is ${version}; ${hint}`, 4);
  }
  const nTensors = c.i64("n_tensors");
  const nKv = c.i64("n_kv");
  if (nTensors < 0n || nTensors > BigInt(Math.floor(c.left / MIN_TENSOR_BYTES))) {
    c.fail("n_tensors", `${nTensors} tensors cannot fit in the ${c.left} bytes left`, 8);
  }
  if (nKv < 0n || nKv > BigInt(Math.floor(c.left / MIN_KV_BYTES))) {
    c.fail("n_kv", `${nKv} key-value pairs cannot fit in the ${c.left} bytes left`, 16);
  }
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < Number(nKv); i++) {
    const at = c.pos;
    const key = c.string(`key ${i}`);
    if (key.length === 0) c.fail(`key ${i}`, "key is empty", at);
    if (metadata.has(key)) c.fail(`key ${i}`, `duplicate key "${key}"`, at);
    const type = c.valueType(`type of "${key}"`);
    const value = type === "array" ? c.array(`"${key}"`, 0) : c.scalar(type, `value of "${key}"`);
    metadata.set(key, { type, value } as GgufValue);
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get("general.alignment");
  if (al !== undefined) {
    if (al.type !== "u32") {
      c.fail("general.alignment", `has type ${al.type}; llama.cpp requires u32`);
    }
    const a = al.value as number;
    if (a === 0 || (a & (a - 1)) !== 0) {
      c.fail("general.alignment", `alignment ${a} is not a power of two`);
    }
    alignment = a;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  const raw: { name: string; dims: number[]; type: number; offset: bigint; at: number }[] = [];
  for (let i = 0; i < Number(nTensors); i++) {
    const at = c.pos;
    const tname = c.string(`tensor ${i} name`);
    const nameBytes = new TextEncoder().encode(tname).length;
    if (nameBytes >= GGML_MAX_NAME) {
      c.fail(`tensor ${i} name`, `name is ${nameBytes} bytes; ggml allows at most 63`, at);
    }
    if (names.has(tname)) c.fail(`tensor ${i} name`, `duplicate tensor name "${tname}"`, at);
    names.add(tname);
    const dimsAt = c.pos;
    const nDims = c.u32(`n_dims of "${tname}"`);
    if (nDims > GGML_MAX_DIMS) {
      c.fail(`n_dims of "${tname}"`, `${nDims} dimensions; ggml allows at most 4`, dimsAt);
    }
    const dims: number[] = [];
    let ne = 1n;
    for (let d = 0; d < nDims; d++) {
      const dAt = c.pos;
      const v = c.i64(`dim ${d} of "${tname}"`);
      if (v < 0n) c.fail(`dim ${d} of "${tname}"`, `dimension is ${v}; must be >= 0`, dAt);
      ne *= v;
      if (ne > BigInt(Number.MAX_SAFE_INTEGER)) {
        c.fail(
          `dim ${d} of "${tname}"`,
          `element count overflows (dims so far ${dims}, ${v})`,
          dAt,
        );
      }
      dims.push(Number(v));
    }
    const typeAt = c.pos;
    const typeId = c.u32(`type of "${tname}"`);
    const type = ggmlTypeById(typeId);
    if (type === undefined) {
      const removed = REMOVED_GGML_TYPES.get(typeId);
      c.fail(
        `type of "${tname}"`,
        removed
          ? `ggml type ${typeId} (${removed}) was removed from ggml; re-quantize the model`
          : `unknown ggml type ${typeId}; hint: newer than this library, or a corrupt file`,
        typeAt,
      );
    }
    const { blockSize } = typeLayout(type!);
    // ggml counts a missing dimension as 1, so a 0-d tensor is a row of one element
    const row = nDims > 0 ? dims[0] : 1;
    if (row % blockSize !== 0) {
      c.fail(
        `dim 0 of "${tname}"`,
        `row of ${row} elements is not a whole number of ${type} blocks of ${blockSize}`,
        dimsAt + 4,
      );
    }
    const offAt = c.pos;
    const offset = c.u64(`offset of "${tname}"`);
    if (offset % BigInt(alignment) !== 0n) {
      c.fail(`offset of "${tname}"`, `offset ${offset} is not a multiple of ${alignment}`, offAt);
    }
    raw.push({ name: tname, dims, type: typeId, offset, at: offAt });
  }
  // llama.cpp pads to the alignment only when there are tensors
  const dataOffset = raw.length > 0 ? Math.ceil(c.pos / alignment) * alignment : c.pos;
  if (raw.length > 0 && dataOffset > src.size) {
    c.fail("data section", `starts at ${dataOffset}, past the end of the file (${src.size})`);
  }
  const dataSize = BigInt(src.size - dataOffset);
  for (const r of raw) {
    const type = ggmlTypeById(r.type)!;
    const { blockSize, blockBytes } = typeLayout(type);
    const nel = r.dims.reduce((a, b) => a * b, 1);
    const nbytes = BigInt(nel / blockSize) * BigInt(blockBytes);
    if (r.offset > dataSize || nbytes > dataSize - r.offset) {
      c.fail(
        `offset of "${r.name}"`,
        `${nbytes} bytes at data offset ${r.offset} run past the end of the file ` +
          `(data section is ${dataSize} bytes)`,
        r.at,
      );
    }
    const offset = Number(r.offset);
    tensors.push({
      name: r.name,
      dims: r.dims,
      shape: [...r.dims].reverse(),
      type,
      ggmlType: r.type,
      offset,
      fileOffset: dataOffset + offset,
      nelements: nel,
      nbytes: Number(nbytes),
    });
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const p = byOffset[i - 1], t = byOffset[i];
    if (t.offset < p.offset + p.nbytes) {
      const at = raw.find((r) => r.name === t.name)!.at;
      c.fail(
        `offset of "${t.name}"`,
        `data [${t.offset}, ${t.offset + t.nbytes}) overlaps "${p.name}" ` +
          `[${p.offset}, ${p.offset + p.nbytes})`,
        at,
      );
    }
  }
  return { version, metadata, tensors, alignment, dataOffset };
}

/**
 * Options of {@link GgufFile.readTensor}. `maxBytes` caps the bytes this read allocates (the
 * packed bytes, or the f32 decoding); default: the file's own default from {@link openGguf}.
 */
export interface ReadTensorOptions extends BudgetOptions {
  /** Device of the tensor (default "cpu"). */
  device?: string;
  /**
   * Block-quantized tensors: true (default) decodes them to f32; false keeps the packed blocks as
   * a tensor of the block dtype (`astype("f32")` decodes it later; kernels may read it as is).
   */
  dequantize?: boolean;
}

/**
 * An open GGUF file: header and tensor table in memory, tensor data read on request.
 *
 * @example
 * ```ts
 * import { openGguf, saveGguf } from "@aprender/compute/io";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await saveGguf(path, { tensors: [{ name: "w", shape: [2], data: new Float32Array([1, 2]) }] });
 * using f = await openGguf(path); // a GgufFile
 * console.log(f.tensorInfo("w").nbytes, f.readTensorBytes("w").length); // 8 8
 * ```
 */
export class GgufFile implements GgufHeader {
  /** Format version (2 or 3). */
  readonly version: number;
  /** Metadata in file order. */
  readonly metadata: Map<string, GgufValue>;
  /** Tensor table in file order. */
  readonly tensors: GgufTensorInfo[];
  /** Alignment of tensor data. */
  readonly alignment: number;
  /** File offset of the data section. */
  readonly dataOffset: number;
  private byName: Map<string, GgufTensorInfo>;
  /** The per-read budget given at open (undefined: what the file holds always reads). */
  private readonly maxBytes: number | undefined;

  /** Count `bytes` of one read of `t` against the budget, before allocating them. */
  private budget(op: string, t: GgufTensorInfo, bytes: number, maxBytes?: number): void {
    const limit = budgetOf(op, maxBytes ?? this.maxBytes, bytes);
    new Budget(op, this.name, limit).take(bytes, `tensor "${t.name}"`);
  }

  /**
   * Wrap a parsed header and its source (see {@link openGguf} and {@link decodeGguf}).
   *
   * @param src where the tensor bytes are read from
   * @param header the parsed header
   * @param name file name for error messages
   */
  constructor(
    readonly src: GgufSource,
    header: GgufHeader,
    readonly name: string,
    maxBytes?: number,
  ) {
    if (maxBytes !== undefined) budgetOf("gguf", maxBytes, 0); // validated now
    this.maxBytes = maxBytes;
    this.version = header.version;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.alignment = header.alignment;
    this.dataOffset = header.dataOffset;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** A metadata value without its type tag (arrays as their items), or undefined. */
  get(key: string): number | bigint | boolean | string | GgufArrayItems | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    return v.type === "array" ? v.value.items : v.value;
  }

  /** The tensor-table row of `name`; throws a FormatError naming the nearest names if absent. */
  tensorInfo(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (t === undefined) {
      const some = this.tensors.slice(0, 5).map((x) => x.name).join(", ");
      throw new FormatError(
        `gguf: ${this.name}: no tensor "${name}" (${this.tensors.length} tensors: ${some}` +
          `${this.tensors.length > 5 ? ", …" : ""})`,
      );
    }
    return t;
  }

  /** The packed bytes of a tensor, read from the file now (a fresh copy). */
  readTensorBytes(tensor: string | GgufTensorInfo, options: BudgetOptions = {}): Uint8Array {
    const t = typeof tensor === "string" ? this.tensorInfo(tensor) : tensor;
    this.budget("readTensorBytes", t, t.nbytes, options.maxBytes);
    return this.src.read(t.fileOffset, t.nbytes).slice();
  }

  /**
   * A tensor as a `Tensor` of row-major `shape`: element types keep their dtype, block types are
   * dequantized to f32 with llama.cpp's decoders, or kept packed with `{ dequantize: false }`.
   */
  readTensor(name: string, options?: ReadTensorOptions & { dequantize?: true }): Tensor;
  /** The tensor with block types kept packed (element types as above). */
  readTensor(name: string, options: ReadTensorOptions): Tensor<StorageDType>;
  readTensor(name: string, options: ReadTensorOptions = {}): Tensor<StorageDType> {
    const t = this.tensorInfo(name);
    const decode = isBlockType(t.type) && options.dequantize !== false;
    this.budget("readTensor", t, decode ? 4 * t.nelements : t.nbytes, options.maxBytes);
    const bytes = this.src.read(t.fileOffset, t.nbytes);
    if (!isBlockType(t.type)) {
      return fromTyped(bytes.slice(), t.shape, t.type, options.device);
    }
    if (options.dequantize === false) {
      return fromBlocks(bytes.slice(), t.type, t.shape, options.device) as Tensor<StorageDType>;
    }
    return fromTyped(dequantizeBytes(t.type, bytes, t.nelements), t.shape, "f32", options.device);
  }

  /** Close the file. */
  close(): void {
    this.src.close();
  }

  /** `using f = await openGguf(p)` closes the file at scope end. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Decode `n` elements of block type `type` from `bytes` into a new Float32Array.
 *
 * @example
 * ```ts
 * import { dequantizeBytes } from "@aprender/compute/io";
 * const q8 = new Uint8Array(34); // d = 0: all zeros
 * console.log(dequantizeBytes("q8_0", q8, 32).length); // 32
 * ```
 */
export function dequantizeBytes(type: BlockDType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  BLOCK_CODECS[type].dequantize(bytes, out);
  return out;
}

/**
 * Open a GGUF file lazily: reads and checks the header and tensor table only.
 * `options.maxBytes` caps what each tensor read may allocate (see {@link ReadTensorOptions}).
 *
 * @example
 * ```ts
 * import { openGguf, saveGguf } from "@aprender/compute/io";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await saveGguf(path, { metadata: { "general.name": "demo" }, tensors: [] });
 * using f = await openGguf(path);
 * console.log(f.get("general.name")); // "demo"
 * ```
 */
export async function openGguf(
  path: string | URL,
  options: BudgetOptions = {},
): Promise<GgufFile> {
  const file = await openFile("openGguf", path);
  try {
    const size = (await file.stat()).size;
    const src = fileSource(file, size);
    const name = path instanceof URL ? path.href : path;
    return new GgufFile(src, parseGgufHeader(src, name), name, options.maxBytes);
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Read a GGUF file held in memory (no copy of the tensor bytes until asked);
 * `options.maxBytes` as for {@link openGguf}.
 *
 * @example
 * ```ts
 * import { decodeGguf } from "@aprender/compute/io";
 * try {
 *   decodeGguf(new TextEncoder().encode("GGUF"));
 * } catch (e) {
 *   console.log((e as Error).name); // "FormatError"
 * }
 * ```
 */
export function decodeGguf(
  bytes: Uint8Array,
  name = "<bytes>",
  options: BudgetOptions = {},
): GgufFile {
  if (options.maxBytes !== undefined) budgetOf("decodeGguf", options.maxBytes, 0);
  const src = memorySource(bytes);
  return new GgufFile(src, parseGgufHeader(src, name), name, options.maxBytes);
}
