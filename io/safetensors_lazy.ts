/**
 * Lazy safetensors: {@link openSafetensors} reads the 8-byte length and the JSON header only;
 * tensors are read by offset on request. The header is checked as the format promises before
 * anything is allocated from it: length ≤ 100 MB and inside the file, no duplicate keys at any
 * level (`JSON.parse` would silently keep the last), known dtypes, shapes whose byte size equals
 * the offsets' span, and offsets tiling the data section exactly (no hole, overlap or tail).
 *
 * @module
 */
import {
  Budget,
  budgetOf,
  type BudgetOptions,
  checkJsonDepth,
  enumTable,
  openFile,
} from "./budget.ts";
import { FormatError } from "../core/errors.ts";

/** The reference implementation's header limit. */
const MAX_HEADER = 100_000_000;

/** safetensors dtype names and their byte sizes. */
const SIZES: Readonly<Record<string, number>> = enumTable({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
});

/** One entry of the header. */
export interface SafetensorsEntry {
  /** Tensor name. */
  readonly name: string;
  /** safetensors dtype name ("F32", "BF16", ...). */
  readonly dtype: string;
  /** Row-major shape. */
  readonly shape: readonly number[];
  /** Byte offsets [begin, end) within the data section. */
  readonly begin: number;
  /** End offset (exclusive). */
  readonly end: number;
}

/** An open safetensors file. */
export interface LazySafetensors {
  /** Entries in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** `__metadata__` strings. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The raw bytes of a tensor, read now. */
  readBytes(name: string): Uint8Array;
  /** A float tensor's values as f32 (F32, F16, BF16, F64). */
  readF32(name: string): Float32Array;
  /** Close the file. */
  close(): void;
  /** Closes the file. */
  [Symbol.dispose](): void;
}

/**
 * Throw on a key that repeats within one JSON object (at any depth).
 *
 * @example
 * ```ts
 * import { assertNoDuplicateKeys } from "@aprender/compute/io";
 * try {
 *   assertNoDuplicateKeys('{"a":1,"a":2}', (what) => {
 *     throw new Error(what);
 *   });
 * } catch (e) {
 *   console.log((e as Error).message); // 'duplicate key "a" in the header'
 * }
 * ```
 */
export function assertNoDuplicateKeys(text: string, fail: (what: string) => never): void {
  const stack: Set<string>[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === "{") {
      stack.push(new Set());
      i++;
    } else if (c === "}") {
      stack.pop();
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j + 1;
      while (
        i < n && (text[i] === " " || text[i] === "\n" || text[i] === "\t" || text[i] === "\r")
      ) {
        i++;
      }
      if (text[i] === ":" && stack.length) {
        let key = "";
        try {
          key = JSON.parse(raw);
        } catch (e) {
          fail(`header is not valid JSON: ${(e as Error).message}`);
        }
        const top = stack[stack.length - 1];
        if (top.has(key)) fail(`duplicate key ${JSON.stringify(key)} in the header`);
        top.add(key);
      }
    } else i++;
  }
}

/** What {@link parseSafetensorsHeader} finds: entries, metadata and where the data starts. */
export interface SafetensorsHeader {
  /** Entries in header order. */
  readonly entries: Map<string, SafetensorsEntry>;
  /** `__metadata__` strings. */
  readonly metadata: Record<string, string>;
  /** File offset of the data section. */
  readonly dataStart: number;
}

/**
 * Parse and check a safetensors header from a file of `size` bytes (`read(pos, len)` returns
 * exactly those bytes). Throws a FormatError naming what is wrong.
 *
 * @example
 * ```ts
 * import { parseSafetensorsHeader } from "@aprender/compute/io";
 * const b = new Uint8Array(10); // header length 2: "{}"
 * b[0] = 2;
 * b.set([123, 125], 8);
 * console.log(parseSafetensorsHeader(10, (p, n) => b.subarray(p, p + n)).entries.size); // 0
 * ```
 */
export function parseSafetensorsHeader(
  size: number,
  read: (pos: number, len: number) => Uint8Array,
  name = "<bytes>",
): SafetensorsHeader {
  const fail = (what: string): never => {
    throw new FormatError(`openSafetensors: ${name}: ${what}`);
  };
  if (size < 8) fail(`file is ${size} bytes; the header length alone is 8`);
  const lenBytes = read(0, 8);
  const hlen64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (hlen64 > BigInt(Math.min(MAX_HEADER, size - 8))) {
    fail(`header length ${hlen64} exceeds the file (${size} bytes) or the 100 MB limit`);
  }
  const hlen = Number(hlen64);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(read(8, hlen));
  } catch {
    fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail("header does not start with '{'");
  checkJsonDepth(text, (what) => fail(`header ${what}`));
  assertNoDuplicateKeys(text, fail);
  let header: unknown = {};
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  const dataStart = 8 + hlen, dataSize = size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(header as Record<string, unknown>)) {
    if (k === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        fail("__metadata__ is not an object of strings");
      }
      for (const x of Object.values(v as object)) {
        if (typeof x !== "string") fail("__metadata__ is not an object of strings");
      }
      metadata = v as Record<string, string>;
      continue;
    }
    if (typeof v !== "object" || v === null) fail(`tensor "${k}": entry is not an object`);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dt = String(e.dtype);
    if (!Object.hasOwn(SIZES, dt)) fail(`tensor "${k}": unknown dtype ${dt}`);
    const shape = e.shape as number[];
    const offs = e.data_offsets as number[];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${k}": bad shape ${JSON.stringify(e.shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(Number.isSafeInteger)) {
      fail(`tensor "${k}": bad data_offsets ${JSON.stringify(e.data_offsets)}`);
    }
    const [b, en] = offs;
    let bytes = BigInt(SIZES[dt]);
    for (const d of shape) bytes *= BigInt(d);
    if (b < 0 || en < b || en > dataSize || BigInt(en - b) !== bytes) {
      fail(
        `tensor "${k}" (${dt} [${shape}] = ${bytes} bytes) has data_offsets [${b}, ${en}] ` +
          `in a data section of ${dataSize} bytes`,
      );
    }
    entries.set(k, { name: k, dtype: dt, shape, begin: b, end: en });
  }
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) {
      fail(
        e.begin < at
          ? `tensor "${e.name}" [${e.begin}, ${e.end}) overlaps the previous tensor (ends ${at})`
          : `hole before tensor "${e.name}": bytes [${at}, ${e.begin}) belong to no tensor`,
      );
    }
    at = e.end;
  }
  if (at !== dataSize) fail(`${dataSize - at} bytes after the last tensor belong to no tensor`);
  return { entries, metadata, dataStart };
}

/**
 * Open a `.safetensors` file lazily (header only; tensors by offset). Each read allocates at most
 * what the file holds for that tensor (×2 for `readF32` of a 16-bit type), so by default a genuine
 * file always reads; `options.maxBytes` caps one read (a FormatError past it, validated like
 * every loader's budget).
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * import { openSafetensors, saveSafetensors } from "@aprender/compute/io";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveSafetensors(path, { w: tensor([1, 2, 3]) });
 * using st = await openSafetensors(path);
 * console.log(st.readF32("w")); // Float32Array(3) [1, 2, 3]
 * ```
 */
export async function openSafetensors(
  path: string | URL,
  options: BudgetOptions = {},
): Promise<LazySafetensors> {
  const name = path instanceof URL ? path.href : path;
  const fail = (what: string): never => {
    throw new FormatError(`openSafetensors: ${name}: ${what}`);
  };
  const maxBytes = options.maxBytes;
  if (maxBytes !== undefined) budgetOf("openSafetensors", maxBytes, 0); // validated now
  /** Count one read's allocation against the budget (default: what the file holds reads). */
  const take = (op: string, t: string, bytes: number) =>
    new Budget(op, name, budgetOf(op, maxBytes, bytes)).take(bytes, `tensor "${t}"`);
  const file = await openFile("openSafetensors", path);
  try {
    const size = (await file.stat()).size;
    const read = (pos: number, len: number): Uint8Array => {
      const out = new Uint8Array(len);
      file.seekSync(pos, Deno.SeekMode.Start);
      let got = 0;
      while (got < len) {
        const k = file.readSync(out.subarray(got));
        if (!k) fail(`file ended at byte ${pos + got}`);
        got += k!;
      }
      return out;
    };
    const { entries, metadata, dataStart } = parseSafetensorsHeader(size, read, name);
    const get = (t: string) => entries.get(t) ?? fail(`no tensor "${t}" (${entries.size} tensors)`);
    const readBytes = (t: string, f32 = false) => {
      const e = get(t);
      const n = e.end - e.begin;
      take(f32 ? "readF32" : "readBytes", t, f32 ? Math.max(n, n / SIZES[e.dtype] * 4) : n);
      return read(dataStart + e.begin, n);
    };
    return {
      entries,
      metadata,
      readBytes: (t: string) => readBytes(t),
      readF32(t: string): Float32Array {
        const e = get(t);
        const b = readBytes(t, true);
        const n = (e.end - e.begin) / SIZES[e.dtype];
        switch (e.dtype) {
          case "F32":
            return new Float32Array(b.buffer);
          case "F64":
            return Float32Array.from(new Float64Array(b.buffer));
          case "F16":
            return Float32Array.from(new Float16Array(b.buffer));
          case "BF16": {
            const u = new Uint16Array(b.buffer), out = new Float32Array(n);
            new Uint32Array(out.buffer).set(Uint32Array.from(u, (x) => x << 16));
            return out;
          }
        }
        return fail(`tensor "${t}" is ${e.dtype}, not a float type`);
      },
      close: () => file.close(),
      [Symbol.dispose]: () => file.close(),
    };
  } catch (e) {
    file.close();
    throw e;
  }
}
