/**
 * The GGUF header reader's cursor: chunked reads from a {@link GgufSource}, little-endian fields,
 * strings and arrays, each bounded by the bytes left in the file before anything is allocated.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";
import type { GgufSource } from "./source.ts";
import {
  GGUF_SCALAR_BYTES,
  GGUF_TYPE_NAMES,
  type GgufArray,
  type GgufArrayItems,
  type GgufValueType,
} from "./types.ts";

/** Bytes fetched per header read: big enough that a header costs few syscalls. */
const CHUNK = 1 << 20;
/** Nested arrays deeper than this are rejected (a crafted file could overflow the stack). */
const MAX_ARRAY_DEPTH = 64;
/** Smallest encodings, used to bound counts by the bytes left before looping or allocating. */
export const MIN_KV_BYTES = 8 + 1 + 4; // key length, one key byte, value type (+ the value)
export const MIN_TENSOR_BYTES = 8 + 1 + 4 + 4 + 8; // name length, one byte, n_dims, type, offset

/** Sequential reader over a source, with the byte offset of every field for error messages. */
export class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private view = new DataView(this.buf.buffer);
  private dec = new TextDecoder();

  constructor(readonly src: GgufSource, readonly name: string) {}

  fail(field: string, what: string, at = this.pos): never {
    throw new FormatError(`gguf: ${this.name}: ${field} at byte offset ${at}: ${what}`);
  }

  get left(): number {
    return this.src.size - this.pos;
  }

  /** Make `n` bytes at `pos` available in the buffer; returns their index in it. */
  need(n: number, field: string): number {
    if (n > this.left) {
      this.fail(field, `needs ${n} bytes but the file has ${this.left} left (truncated file?)`);
    }
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      const len = Math.min(Math.max(n, CHUNK), this.left);
      this.buf = this.src.read(this.pos, len);
      this.start = this.pos;
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
    return this.pos - this.start;
  }

  u8(f: string): number {
    const i = this.need(1, f);
    this.pos += 1;
    return this.buf[i];
  }
  u32(f: string): number {
    const i = this.need(4, f);
    this.pos += 4;
    return this.view.getUint32(i, true);
  }
  u64(f: string): bigint {
    const i = this.need(8, f);
    this.pos += 8;
    return this.view.getBigUint64(i, true);
  }
  i64(f: string): bigint {
    const i = this.need(8, f);
    this.pos += 8;
    return this.view.getBigInt64(i, true);
  }

  /** Bytes copied out of the buffer (aligned for typed-array views). */
  bytes(n: number, f: string): Uint8Array {
    const i = this.need(n, f);
    this.pos += n;
    return this.buf.slice(i, i + n);
  }

  /** A u64 string length, checked against the bytes left (no BigInt: this runs per string). */
  private strLen(f: string): number {
    const at = this.pos;
    const i = this.need(8, `${f} length`);
    this.pos += 8;
    const n = this.view.getUint32(i + 4, true) * 4294967296 + this.view.getUint32(i, true);
    if (n > this.left) {
      this.fail(`${f} length`, `string of ${n} bytes runs past the end of the file`, at);
    }
    return n;
  }

  string(f: string): string {
    const n = this.strLen(f);
    const i = this.need(n, f);
    this.pos += n;
    const b = this.buf;
    if (n <= 64) {
      let ascii = true;
      for (let k = 0; k < n; k++) if (b[i + k] > 127) ascii = false;
      if (ascii) {
        return String.fromCharCode.apply(null, b.subarray(i, i + n) as unknown as number[]);
      }
    }
    return this.dec.decode(b.subarray(i, i + n));
  }

  /**
   * `n` strings (a vocabulary: tens of thousands): their bytes are gathered and decoded with one
   * TextDecoder call, then cut at the UTF-16 offsets of the byte boundaries.
   */
  stringArray(n: number, f: string): string[] {
    let cat = new Uint8Array(Math.min(this.left, 1 << 16));
    const ends = new Float64Array(n);
    let used = 0;
    for (let k = 0; k < n; k++) {
      const len = this.strLen(f);
      const i = this.need(len, f);
      if (used + len > cat.length) {
        const grown = new Uint8Array(
          Math.min(this.left + used, Math.max(2 * cat.length, used + len)),
        );
        grown.set(cat.subarray(0, used));
        cat = grown;
      }
      const b = this.buf;
      if (len < 32) { for (let j = 0; j < len; j++) cat[used + j] = b[i + j]; }
      else cat.set(b.subarray(i, i + len), used);
      this.pos += len;
      used += len;
      ends[k] = used;
    }
    const out: string[] = new Array(n);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(cat.subarray(0, used));
    } catch {
      // invalid UTF-8 somewhere: decode each string alone (U+FFFD replacements stay local)
      for (let k = 0, s = 0; k < n; s = ends[k++]) {
        out[k] = this.dec.decode(cat.subarray(s, ends[k]));
      }
      return out;
    }
    if (text.length === used) {
      for (let k = 0, s = 0; k < n; s = ends[k++]) out[k] = text.slice(s, ends[k]);
      return out;
    }
    // UTF-16 units per byte: one per lead byte, two for a 4-byte sequence's lead
    let u = 0, start = 0, byte = 0;
    for (let k = 0; k < n; k++) {
      for (const e = ends[k]; byte < e; byte++) {
        const c = cat[byte];
        if ((c & 0xc0) !== 0x80) u += c >= 0xf0 ? 2 : 1;
      }
      out[k] = text.slice(start, u);
      start = u;
    }
    return out;
  }

  scalar(type: GgufValueType, f: string): number | bigint | boolean | string {
    const at = this.pos;
    switch (type) {
      case "string":
        return this.string(f);
      case "bool": {
        const v = this.u8(f);
        if (v > 1) this.fail(f, `bool byte is ${v}; expected 0 or 1`, at);
        return v === 1;
      }
      case "u64":
        return this.u64(f);
      case "i64":
        return this.i64(f);
      default: {
        const n = GGUF_SCALAR_BYTES[type]!;
        const i = this.need(n, f);
        this.pos += n;
        const v = this.view;
        switch (type) {
          case "u8":
            return v.getUint8(i);
          case "i8":
            return v.getInt8(i);
          case "u16":
            return v.getUint16(i, true);
          case "i16":
            return v.getInt16(i, true);
          case "u32":
            return v.getUint32(i, true);
          case "i32":
            return v.getInt32(i, true);
          case "f32":
            return v.getFloat32(i, true);
          default:
            return v.getFloat64(i, true);
        }
      }
    }
  }

  valueType(f: string): GgufValueType {
    const at = this.pos;
    const id = this.u32(f);
    const t = GGUF_TYPE_NAMES[id];
    if (t === undefined) {
      this.fail(f, `unknown value type ${id}; expected 0..12 (u8 … f64, 9 = array)`, at);
    }
    return t;
  }

  array(f: string, depth: number): GgufArray {
    if (depth > MAX_ARRAY_DEPTH) this.fail(f, `arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
    const itemType = this.valueType(`${f} item type`);
    const at = this.pos;
    const count = this.u64(`${f} count`);
    const size = GGUF_SCALAR_BYTES[itemType];
    // every item takes at least `min` bytes: a count the file cannot hold is rejected before any
    // loop or allocation (llama.cpp's array-count CVEs)
    const min = size ?? (itemType === "string" ? 8 : 12);
    if (count > BigInt(Math.floor(this.left / min))) {
      this.fail(
        `${f} count`,
        `${count} items of ${itemType} need at least ${count * BigInt(min)} bytes but the ` +
          `file has ${this.left} left`,
        at,
      );
    }
    const n = Number(count);
    if (size !== undefined && itemType !== "bool") {
      const raw = this.bytes(n * size, f);
      return { itemType, items: typedItems(itemType, raw) };
    }
    if (itemType === "string") return { itemType, items: this.stringArray(n, `${f} item`) };
    const items: unknown[] = new Array(n);
    for (let k = 0; k < n; k++) {
      items[k] = itemType === "array"
        ? this.array(`${f}[${k}]`, depth + 1)
        : this.scalar(itemType, `${f}[${k}]`);
    }
    return { itemType, items: items as GgufArrayItems };
  }
}

function typedItems(t: GgufValueType, raw: Uint8Array): GgufArrayItems {
  const b = raw.buffer as ArrayBuffer;
  switch (t) {
    case "u8":
      return raw;
    case "i8":
      return new Int8Array(b);
    case "u16":
      return new Uint16Array(b);
    case "i16":
      return new Int16Array(b);
    case "u32":
      return new Uint32Array(b);
    case "i32":
      return new Int32Array(b);
    case "f32":
      return new Float32Array(b);
    case "u64":
      return new BigUint64Array(b);
    case "i64":
      return new BigInt64Array(b);
    default:
      return new Float64Array(b);
  }
}
