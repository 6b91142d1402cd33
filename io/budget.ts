/**
 * What every loader shares: the size budget (`maxBytes`), reading a path with the OS errors
 * wrapped in a typed {@link IOError}, and inflating a compressed stream straight into one buffer
 * of its declared size (peak memory ≈ 1× the payload, never chunks + concat + copy).
 *
 * The budget bounds what a file can make a loader allocate: the bytes of tensor data (after
 * decompression) one load produces. Its default is {@link DEFAULT_MAX_BYTES} (512 MiB) or the
 * input's own length, whichever is larger: data really present in a file always loads, and only
 * amplification past 512 MiB (a decompression bomb, or a genuinely large compressed array) needs
 * the caller's explicit `maxBytes`.
 *
 * Internal to io/: not re-exported from mod.ts.
 *
 * @module
 */
import { AllocationError, ArgumentError, FormatError, IOError } from "../core/errors.ts";

/** The budget's floor when a loader is given none: 512 MiB (or the input's length if larger). */
export const DEFAULT_MAX_BYTES = 2 ** 29;

/** The budget option every loader takes. */
export interface BudgetOptions {
  /**
   * The most bytes of tensor data (after decompression) one load may produce. Default: 512 MiB
   * or the input's own length, whichever is larger. `Infinity` lifts the limit (trusted files
   * only). A NaN, negative or non-numeric value is an ArgumentError.
   */
  maxBytes?: number;
}

/** The budget of one load: `maxBytes` validated, or the default for an input of `inputBytes`. */
export function budgetOf(op: string, maxBytes: unknown, inputBytes: number): number {
  if (maxBytes === undefined) return Math.max(DEFAULT_MAX_BYTES, inputBytes);
  if (
    typeof maxBytes !== "number" || Number.isNaN(maxBytes) || maxBytes < 0 ||
    (Number.isFinite(maxBytes) && !Number.isSafeInteger(maxBytes))
  ) {
    throw new ArgumentError(
      `${op}: options.maxBytes must be a whole number of bytes ≥ 0 or Infinity, got ${
        typeof maxBytes === "number" ? maxBytes : JSON.stringify(maxBytes) ?? String(maxBytes)
      }. Hint: leave it out for the default (512 MiB, or the file's own size if larger).`,
    );
  }
  return maxBytes;
}

/** Tracks the bytes one load has produced against its budget. */
export class Budget {
  /** Bytes produced so far. */
  used = 0;
  /**
   * @param op the loader, for messages
   * @param name the file, for messages
   * @param limit the budget from {@link budgetOf}
   */
  constructor(readonly op: string, readonly name: string, readonly limit: number) {}

  /**
   * Count `bytes` more of `what`, or a FormatError (before allocating) past the budget: what a
   * file claims counts as the file's problem unless the caller vouches for it with `maxBytes`.
   */
  take(bytes: number, what: string): void {
    if (this.used + bytes > this.limit) {
      throw new FormatError(
        `${this.op}: ${this.name}: ${what} needs ${bytes} bytes, more than the ` +
          `${this.limit - this.used} bytes left of the load's maxBytes budget of ${this.limit} ` +
          `(default: 512 MiB or the file's own size). Hint: if you trust the file, pass ` +
          `{ maxBytes: ${this.used + bytes} } or more.`,
      );
    }
    this.used += bytes;
  }
}

/**
 * The bytes of a path or `file:` URL (or `pathOrBytes` itself): a missing file, a directory or a
 * permission problem is an {@link IOError} naming the op and the path, with the OS error as its
 * `cause`.
 */
export async function readInput(
  pathOrBytes: string | URL | Uint8Array,
  op = "load",
): Promise<{ bytes: Uint8Array; name: string }> {
  if (pathOrBytes instanceof Uint8Array) return { bytes: pathOrBytes, name: "<bytes>" };
  if (typeof pathOrBytes !== "string" && !(pathOrBytes instanceof URL)) {
    throw new ArgumentError(
      `${op}: expected a path (string), a file: URL or a Uint8Array of the file's bytes, got ` +
        `${pathOrBytes === null ? "null" : typeof pathOrBytes}.`,
    );
  }
  const name = pathOrBytes instanceof URL ? pathOrBytes.href : String(pathOrBytes);
  try {
    return { bytes: await Deno.readFile(pathOrBytes), name };
  } catch (e) {
    throw ioError(op, name, e);
  }
}

/** `Deno.open` for reading, with OS errors as an {@link IOError} naming the op and the path. */
export async function openFile(op: string, path: string | URL): Promise<Deno.FsFile> {
  const name = path instanceof URL ? path.href : String(path);
  try {
    const file = await Deno.open(path, { read: true });
    const info = await file.stat().catch((e) => {
      file.close();
      throw e;
    });
    if (info.isDirectory) {
      file.close();
      throw new Deno.errors.IsADirectory(`${name} is a directory`);
    }
    return file;
  } catch (e) {
    throw ioError(op, name, e);
  }
}

/**
 * `Deno.writeFile` with OS errors (a missing directory, no permission, a directory in the way)
 * as an {@link IOError} naming the op and the path, with the OS error as its `cause`.
 */
export async function writeOutput(
  op: string,
  path: string | URL,
  bytes: Uint8Array,
): Promise<void> {
  try {
    await Deno.writeFile(path, bytes);
  } catch (e) {
    throw ioError(op, path instanceof URL ? path.href : String(path), e, "write");
  }
}

/** An IOError for a failed read (or write) of `name`, keeping the runtime's error as the cause. */
export function ioError(op: string, name: string, e: unknown, verb = "read"): IOError {
  const kind = e instanceof Deno.errors.NotFound
    ? (verb === "read" ? "no such file" : "no such directory")
    : e instanceof Deno.errors.IsADirectory
    ? "it is a directory, not a file"
    : e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable
    ? `permission denied (run with --allow-${verb} for it, or check the file's mode)`
    : e instanceof Error
    ? e.message
    : String(e);
  return new IOError(`${op}: cannot ${verb} ${name}: ${kind}.`, { cause: e });
}

/**
 * One buffer of a declared size that commits memory only as bytes arrive: a resizable
 * ArrayBuffer whose maximum is the declared size grows in place (no copy) as the stream inflates,
 * so a header that lies about a large size costs only what the stream really produced, and a
 * truthful one ends as exactly one buffer of the payload (peak ≈ 1×).
 */
class GrowingBuffer {
  readonly buffer: ArrayBuffer;
  pos = 0;
  constructor(readonly size: number) {
    this.buffer = new ArrayBuffer(0, { maxByteLength: size });
  }
  /** Append `b`, or return false if it would pass the declared size. */
  push(b: Uint8Array): boolean {
    if (this.pos + b.length > this.size) {
      this.pos += b.length;
      return false;
    }
    const need = this.pos + b.length;
    if (need > this.buffer.byteLength) {
      // Geometric growth (at least 1 MiB) keeps resizes rare; never past the declared size.
      this.buffer.resize(Math.min(this.size, Math.max(need, this.buffer.byteLength * 2, 1 << 20)));
    }
    new Uint8Array(this.buffer, this.pos, b.length).set(b);
    this.pos = need;
    return true;
  }
}

/**
 * Inflate `comp` (`"deflate-raw"` or `"gzip"`) into one buffer of exactly the declared `size`.
 * `size` may be given lazily: `sizeOf(firstBytes)` sees the first decompressed bytes (to read a
 * header) and returns the size, or null while it needs more. Corrupt data, more output than
 * declared (a size lie or a bomb) and a short stream each are a FormatError via `fail`.
 */
export async function inflateInto(
  comp: Uint8Array,
  format: "deflate-raw" | "gzip",
  size: number | ((head: Uint8Array) => number | null),
  fail: (what: string) => never,
): Promise<Uint8Array> {
  let out: GrowingBuffer | null = typeof size === "number" ? new GrowingBuffer(size) : null;
  // The compressed bytes go in as small slices, pulled only when the inflater wants more: given
  // the whole input at once the runtime inflates it in one chunk (a 261 KB deflate stream of
  // zeros became one 256 MiB chunk before any check could stop it). Deflate inflates at most
  // ~1032× its input, so a slice of `remaining / 1024` bytes (1 KiB .. 64 KiB) can overshoot
  // the declared size by about 1 MiB or the rest of the payload, whichever is larger.
  let at = 0;
  const source = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(c) {
      if (at >= comp.length) return c.close();
      const left = out === null ? 0 : out.size - out.pos;
      const n = Math.min(1 << 16, Math.max(1 << 10, Math.floor(left / 1024)));
      c.enqueue(comp.slice(at, at + n) as Uint8Array<ArrayBuffer>);
      at += n;
    },
  }, { highWaterMark: 0 });
  const reader = source.pipeThrough(new DecompressionStream(format)).getReader();
  let head = new Uint8Array(0);
  let over = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      let chunk: Uint8Array = value;
      if (out === null) {
        // Only the header's bytes are kept until the size is known (headers are small).
        const h = new Uint8Array(head.length + value.length);
        h.set(head);
        h.set(value, head.length);
        head = h;
        const n = (size as (head: Uint8Array) => number | null)(head);
        if (n === null) {
          if (head.length > 1 << 16) fail("has no complete header in its first 64 KiB.");
          continue;
        }
        out = new GrowingBuffer(n);
        chunk = head;
      }
      if (!out.push(chunk)) {
        over = true;
        break;
      }
    }
    if (over) {
      out!.buffer.resize(0);
      await reader.cancel().catch(() => {});
      fail(
        `inflates to more than the ${out!.size} bytes it declares (declared ${out!.size}: a ` +
          `size lie or a decompression bomb).`,
      );
    }
  } catch (e) {
    (out as GrowingBuffer | null)?.buffer.resize(0);
    if (e instanceof FormatError || e instanceof AllocationError) {
      await reader.cancel().catch(() => {});
      throw e;
    }
    fail(`has corrupt or truncated compressed data (${e instanceof Error ? e.message : e}).`);
  }
  if (out === null) return fail("ends before its header is complete.");
  if (out.pos !== out.size) {
    out.buffer.resize(0);
    fail(`inflates to ${out.pos} bytes but declares ${out.size}.`);
  }
  return new Uint8Array(out.buffer, 0, out.size);
}

/**
 * Give back the memory of a buffer from {@link inflateInto} once its bytes were copied into
 * tensors: V8 does not count a resizable buffer's growth as external memory, so garbage ones
 * would not prompt a collection; shrinking it to 0 releases the pages now.
 */
export function releaseInflated(b: Uint8Array): void {
  const buf = b.buffer as ArrayBuffer;
  if (buf.resizable) buf.resize(0);
}

/** The deepest JSON nesting a file's metadata may have (safetensors headers need 3). */
export const MAX_JSON_DEPTH = 64;

/**
 * Refuse JSON text nested deeper than {@link MAX_JSON_DEPTH} (objects and arrays, outside
 * strings) before `JSON.parse` builds it: 10 million `[` in a 20 MB header took 26 s and 561 MiB
 * to parse. O(length), no allocation. `fail` gets the reason.
 */
export function checkJsonDepth(text: string, fail: (what: string) => never): void {
  let depth = 0;
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip to its closing quote, past escapes
      for (i++; i < n && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) {
        fail(
          `nests deeper than ${MAX_JSON_DEPTH} levels of JSON objects/arrays (at character ${i}).`,
        );
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/**
 * A lookup table with no prototype: a key read from a file (a dtype name such as "constructor"
 * or "__proto__") finds only the table's own entries, never an `Object.prototype` member. Every
 * enumerated field of every format is looked up in one of these.
 */
export function enumTable<V>(entries: Readonly<Record<string, V>>): Readonly<Record<string, V>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, V>, entries));
}
