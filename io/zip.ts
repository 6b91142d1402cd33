/**
 * A small ZIP container reader and writer for `.npz` files: stored (method 0) and deflated
 * (method 8) entries through the platform's `CompressionStream` / `DecompressionStream`
 * ("deflate-raw"), zip64 records and extra fields, data descriptors (sizes are taken from the
 * central directory), and CRC-32 checks.
 *
 * Every size and offset read from the archive is checked against the archive's byte length
 * before it is used, entries may not overlap, and decompression stops as soon as an entry
 * produces more bytes than it declares, so a malformed or hostile archive gives a
 * {@link FormatError} rather than a crash, a hang or an unbounded allocation.
 *
 * Internal to io/: not re-exported from mod.ts.
 *
 * @module
 */
import { type Budget, inflateInto, releaseInflated } from "./budget.ts";
import { FormatError } from "../core/errors.ts";

// ---- CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) ----------------------------------

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `bytes` (the checksum ZIP, gzip and PNG use). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- constants ------------------------------------------------------------------------------

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
/** Deflate cannot expand data by more than ~1032:1; a larger declared ratio is a lie. */
const MAX_DEFLATE_RATIO = 1100;

/** Python's zipfile decodes names without the UTF-8 flag as code page 437. */
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
  "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

/** One file of an archive, after reading and checking. */
export interface ZipEntry {
  /** The entry's name (path inside the archive). */
  name: string;
  /** The entry's uncompressed bytes (CRC-32 checked). */
  data: Uint8Array;
}

/** Options of {@link writeZip}. */
export interface ZipWriteOptions {
  /** Deflate every entry (method 8) instead of storing it (method 0). */
  compress?: boolean;
  /** Write zip64 records even when sizes and offsets fit in 32 bits (for tests). */
  forceZip64?: boolean;
}

interface CentralEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compSize: number;
  size: number;
  localOffset: number;
}

// ---- reading --------------------------------------------------------------------------------

/** Bounds-checked little-endian reads that throw FormatError naming the archive. */
class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly label: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(what: string): never {
    throw new FormatError(`${this.label}: ${what}`);
  }
  need(pos: number, n: number, what: string): void {
    if (!(pos >= 0 && n >= 0 && pos + n <= this.bytes.length)) {
      this.fail(
        `${what} at byte ${pos} (${n} bytes) runs past the end of the archive ` +
          `(${this.bytes.length} bytes). The file is truncated or its offsets are wrong.`,
      );
    }
  }
  u16(p: number): number {
    return this.view.getUint16(p, true);
  }
  u32(p: number): number {
    return this.view.getUint32(p, true);
  }
  u64(p: number, what: string): number {
    const v = this.view.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is absurdly large.`);
    return Number(v);
  }
}

function decodeName(raw: Uint8Array, utf8: boolean, r: Reader): string {
  let ascii = true;
  for (const b of raw) if (b >= 0x80) ascii = false;
  if (ascii) return new TextDecoder().decode(raw);
  if (utf8) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      r.fail("an entry name flagged as UTF-8 is not valid UTF-8.");
    }
  }
  let s = "";
  for (const b of raw) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return s;
}

function findEocd(r: Reader): number {
  const n = r.bytes.length;
  if (n < 22) r.fail(`not a zip archive: ${n} bytes is too short for an end-of-directory record.`);
  const stop = Math.max(0, n - 22 - U16_MAX);
  for (let p = n - 22; p >= stop; p--) {
    if (r.u32(p) === SIG_EOCD && p + 22 + r.u16(p + 20) <= n) return p;
  }
  return r.fail("not a zip archive: no end-of-central-directory record found.");
}

function readCentral(r: Reader): CentralEntry[] {
  const eocd = findEocd(r);
  if (r.u16(eocd + 4) !== 0 || r.u16(eocd + 6) !== 0) {
    r.fail("multi-disk (split) archives are not supported.");
  }
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);
  const loc = eocd - 20;
  if (loc >= 0 && r.u32(loc) === SIG_EOCD64_LOCATOR) {
    const p = r.u64(loc + 8, "zip64 end record offset");
    r.need(p, 56, "zip64 end-of-central-directory record");
    if (r.u32(p) !== SIG_EOCD64) r.fail(`bad zip64 end-of-central-directory signature at ${p}.`);
    count = r.u64(p + 32, "zip64 entry count");
    cdSize = r.u64(p + 40, "zip64 central directory size");
    cdOffset = r.u64(p + 48, "zip64 central directory offset");
  }
  r.need(cdOffset, cdSize, "central directory");
  if (count * 46 > cdSize) {
    r.fail(`the central directory (${cdSize} bytes) is too small for ${count} entries.`);
  }
  const out: CentralEntry[] = [];
  let p = cdOffset;
  const end = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > end) r.fail(`central directory entry ${i} runs past the directory's end.`);
    if (r.u32(p) !== SIG_CENTRAL) r.fail(`bad central directory signature at byte ${p}.`);
    const flags = r.u16(p + 8), method = r.u16(p + 10);
    const crc = r.u32(p + 16);
    let compSize = r.u32(p + 20), size = r.u32(p + 24);
    const nameLen = r.u16(p + 28), extraLen = r.u16(p + 30), commentLen = r.u16(p + 32);
    let disk = r.u16(p + 34);
    let localOffset = r.u32(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > end) {
      r.fail(`central directory entry ${i} (name, extra, comment) runs past the directory.`);
    }
    const name = decodeName(
      r.bytes.subarray(p + 46, p + 46 + nameLen),
      (flags & 0x800) !== 0,
      r,
    );
    // zip64 extra field: 64-bit values for the 32-bit fields that hold their maximum.
    let q = p + 46 + nameLen;
    const extraEnd = q + extraLen;
    while (q + 4 <= extraEnd) {
      const id = r.u16(q), len = r.u16(q + 2);
      if (q + 4 + len > extraEnd) r.fail(`entry "${name}": an extra field runs past its end.`);
      if (id === ZIP64_EXTRA) {
        let f = q + 4;
        const take = (what: string): number => {
          if (f + 8 > q + 4 + len) r.fail(`entry "${name}": zip64 extra field lacks the ${what}.`);
          const v = r.u64(f, `entry "${name}": zip64 ${what}`);
          f += 8;
          return v;
        };
        if (size === U32_MAX) size = take("uncompressed size");
        if (compSize === U32_MAX) compSize = take("compressed size");
        if (localOffset === U32_MAX) localOffset = take("local header offset");
        if (disk === U16_MAX) {
          if (f + 4 > q + 4 + len) r.fail(`entry "${name}": zip64 extra field lacks the disk.`);
          disk = r.u32(f);
        }
      }
      q += 4 + len;
    }
    if (disk !== 0) {
      r.fail(`entry "${name}" lives on disk ${disk}; split archives are unsupported.`);
    }
    out.push({ name, method, flags, crc, compSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Where an entry's (compressed) data starts, after checking its local header. */
function dataStart(r: Reader, e: CentralEntry): number {
  r.need(e.localOffset, 30, `local header of entry "${e.name}"`);
  if (r.u32(e.localOffset) !== SIG_LOCAL) {
    r.fail(`entry "${e.name}": no local header at byte ${e.localOffset} (bad offset).`);
  }
  const start = e.localOffset + 30 + r.u16(e.localOffset + 26) + r.u16(e.localOffset + 28);
  r.need(start, e.compSize, `data of entry "${e.name}"`);
  return start;
}

/**
 * Read every file of a ZIP archive (stored or deflated), checking sizes, offsets and CRC-32.
 * `label` names the archive in error messages. Directory entries (names ending in "/") are
 * skipped. With `budget`, the entries' uncompressed sizes are counted against it before each is
 * inflated (into one buffer of its declared size).
 */
export async function readZip(
  bytes: Uint8Array,
  label = "zip",
  budget?: Budget,
): Promise<ZipEntry[]> {
  const r = new Reader(bytes, label);
  const central = readCentral(r);
  const starts = central.map((e) => dataStart(r, e));
  // Entries must not overlap: overlapping entries are the "quoted overlap" zip bomb.
  const order = central.map((_, i) => i).sort((a, b) =>
    central[a].localOffset - central[b].localOffset
  );
  for (let k = 1; k < order.length; k++) {
    const prev = order[k - 1], cur = order[k];
    if (starts[prev] + central[prev].compSize > central[cur].localOffset) {
      r.fail(`entries "${central[prev].name}" and "${central[cur].name}" overlap.`);
    }
  }
  const out: ZipEntry[] = [];
  // Buffers inflated so far: given back at once if a later check fails (V8 does not count a
  // resizable buffer's pages as memory pressure, so garbage ones would pile up: +326 MiB of RSS
  // over 10,000 fuzzed npz cases).
  const inflated: Uint8Array[] = [];
  try {
    await readEntries();
  } catch (e) {
    for (const b of inflated) releaseInflated(b);
    throw e;
  }
  return out;

  async function readEntries(): Promise<void> {
    for (let i = 0; i < central.length; i++) {
      const e = central[i];
      if (e.name.endsWith("/")) continue;
      const fail = (what: string): never => r.fail(`entry "${e.name}" ${what}`);
      if (e.flags & 0x1) fail("is encrypted; encrypted archives are not supported.");
      const comp = bytes.subarray(starts[i], starts[i] + e.compSize);
      let data: Uint8Array;
      if (e.method === 0) {
        if (e.compSize !== e.size) {
          fail(`is stored but declares ${e.compSize} stored and ${e.size} uncompressed bytes.`);
        }
        budget?.take(e.size, `entry "${e.name}"`);
        data = comp;
      } else if (e.method === 8) {
        if (e.size > e.compSize * MAX_DEFLATE_RATIO + 1024) {
          fail(
            `declares ${e.size} bytes from ${e.compSize} deflated bytes, more than deflate ` +
              `can produce (a size lie or a deflate bomb).`,
          );
        }
        budget?.take(e.size, `entry "${e.name}"`);
        data = await inflateInto(comp, "deflate-raw", e.size, fail);
        inflated.push(data);
      } else {
        return fail(
          `uses compression method ${e.method}; only stored (0) and deflate (8) are supported.`,
        );
      }
      const c = crc32(data);
      if (c !== e.crc) {
        fail(
          `fails its CRC-32 check (computed ${hex(c)}, declared ${hex(e.crc)}): ` +
            `the data is corrupt.`,
        );
      }
      out.push({ name: e.name, data });
    }
  }
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

// ---- writing --------------------------------------------------------------------------------

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  p = 0;
  constructor(n: number) {
    this.bytes = new Uint8Array(n);
    this.view = new DataView(this.bytes.buffer);
  }
  u16(v: number): void {
    this.view.setUint16(this.p, v, true);
    this.p += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.p, v, true);
    this.p += 4;
  }
  u64(v: number): void {
    this.view.setBigUint64(this.p, BigInt(v), true);
    this.p += 8;
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.p);
    this.p += b.length;
  }
}

/** DOS date of 1980-01-01, time 00:00: fixed so that the same tensors give the same bytes. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/**
 * Write a ZIP archive of `files` (name → bytes), stored or deflated, with zip64 records where a
 * size, offset or count needs them.
 */
export async function writeZip(
  files: readonly ZipEntry[],
  options: ZipWriteOptions = {},
): Promise<Uint8Array> {
  const force = options.forceZip64 === true;
  const enc = new TextEncoder();
  const items = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const utf8 = name.some((b) => b >= 0x80);
    const method = options.compress ? 8 : 0;
    const comp = method === 8 ? await deflate(f.data) : f.data;
    const size = f.data.length;
    const big = force || size >= U32_MAX || comp.length >= U32_MAX;
    const localLen = 30 + name.length + (big ? 20 : 0);
    items.push({ name, utf8, method, comp, size, crc: crc32(f.data), big, offset });
    offset += localLen + comp.length;
  }
  const cdOffset = offset;
  let cdSize = 0;
  const cdExtra = items.map((it) => {
    const n = (force || it.size >= U32_MAX ? 1 : 0) + (force || it.comp.length >= U32_MAX ? 1 : 0) +
      (force || it.offset >= U32_MAX ? 1 : 0);
    return n === 0 ? 0 : 4 + 8 * n;
  });
  items.forEach((it, i) => (cdSize += 46 + it.name.length + cdExtra[i]));
  const zip64End = force || items.length >= U16_MAX || cdSize >= U32_MAX || cdOffset >= U32_MAX;
  const w = new Writer(cdOffset + cdSize + (zip64End ? 56 + 20 : 0) + 22);
  for (const it of items) {
    const needed = it.big ? 45 : 20;
    w.u32(SIG_LOCAL);
    w.u16(needed);
    w.u16(it.utf8 ? 0x800 : 0);
    w.u16(it.method);
    w.u16(DOS_TIME);
    w.u16(DOS_DATE);
    w.u32(it.crc);
    w.u32(it.big ? U32_MAX : it.comp.length);
    w.u32(it.big ? U32_MAX : it.size);
    w.u16(it.name.length);
    w.u16(it.big ? 20 : 0);
    w.raw(it.name);
    if (it.big) {
      w.u16(ZIP64_EXTRA);
      w.u16(16);
      w.u64(it.size);
      w.u64(it.comp.length);
    }
    w.raw(it.comp);
  }
  items.forEach((it, i) => {
    const bigSize = force || it.size >= U32_MAX;
    const bigComp = force || it.comp.length >= U32_MAX;
    const bigOff = force || it.offset >= U32_MAX;
    w.u32(SIG_CENTRAL);
    w.u16((3 << 8) | 45); // made by Unix, spec 4.5
    w.u16(cdExtra[i] ? 45 : 20);
    w.u16(it.utf8 ? 0x800 : 0);
    w.u16(it.method);
    w.u16(DOS_TIME);
    w.u16(DOS_DATE);
    w.u32(it.crc);
    w.u32(bigComp ? U32_MAX : it.comp.length);
    w.u32(bigSize ? U32_MAX : it.size);
    w.u16(it.name.length);
    w.u16(cdExtra[i]);
    w.u16(0); // comment
    w.u16(0); // disk
    w.u16(0); // internal attributes
    w.u32((0o100644 << 16) >>> 0); // external: regular file, rw-r--r--
    w.u32(bigOff ? U32_MAX : it.offset);
    w.raw(it.name);
    if (cdExtra[i]) {
      w.u16(ZIP64_EXTRA);
      w.u16(cdExtra[i] - 4);
      if (bigSize) w.u64(it.size);
      if (bigComp) w.u64(it.comp.length);
      if (bigOff) w.u64(it.offset);
    }
  });
  if (zip64End) {
    const at = w.p;
    w.u32(SIG_EOCD64);
    w.u64(44);
    w.u16(45);
    w.u16(45);
    w.u32(0);
    w.u32(0);
    w.u64(items.length);
    w.u64(items.length);
    w.u64(cdSize);
    w.u64(cdOffset);
    w.u32(SIG_EOCD64_LOCATOR);
    w.u32(0);
    w.u64(at);
    w.u32(1);
  }
  w.u32(SIG_EOCD);
  w.u16(0);
  w.u16(0);
  w.u16(zip64End ? U16_MAX : items.length);
  w.u16(zip64End ? U16_MAX : items.length);
  w.u32(zip64End ? U32_MAX : cdSize);
  w.u32(zip64End ? U32_MAX : cdOffset);
  w.u16(0);
  return w.bytes;
}
