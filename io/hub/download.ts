/**
 * One file from the network into the cache: redirects followed by hand (so a token never leaves
 * the endpoint's origin), a `.part` file resumed with HTTP Range requests after a cut, the bytes
 * hashed while they arrive and checked against the host's sha256 (LFS files) or git blob sha1
 * (small files), an fsync and an atomic rename into place, and an OS file lock (`.lock`) so that
 * concurrent pulls of one file, in one process or several, download it once.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { dirname } from "node:path";
import { HubError } from "./errors.ts";

/** Progress of one download, reported about ten times a second and once at the end. */
export interface ProgressInfo {
  /** The file's name (last path segment). */
  file: string;
  /** Bytes on disk so far, including a resumed part. */
  received: number;
  /** Total size when known. */
  total?: number;
  /** Average speed of this transfer in bytes per second. */
  bytesPerSecond: number;
  /** Seconds left at that speed, when the total is known. */
  etaSeconds?: number;
  /** True on the last report. */
  done: boolean;
}

/** What the bytes must match; any field may be unknown. */
export interface Expected {
  /** Hex sha256 of the whole file (an LFS file's oid). */
  sha256?: string;
  /** Hex git blob sha1 (`sha1("blob <size>\0" + bytes)`, the oid of a small file in a repo). */
  gitSha1?: string;
  /** Size in bytes. */
  size?: number;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Headers for requests to `authOrigin` only (e.g. `Authorization`). */
  authHeaders?: Record<string, string>;
  /** The origin that may see `authHeaders`. */
  authOrigin?: string;
  /** Attempts after the first one, each resuming where the last stopped (default 3). */
  retries?: number;
  /** Called with progress. */
  onProgress?: (p: ProgressInfo) => void;
  /** Cancels the download (the `.part` stays, to be resumed). */
  signal?: AbortSignal;
  /** Read a 40-hex ETag of a non-redirected answer as a git blob sha1 (the hub's small files). */
  hubEtags?: boolean;
}

/** What a finished download or a verified cache file is. */
export interface FileRecord {
  /** Size in bytes. */
  size: number;
  /** Hex sha256 of the bytes. */
  sha256: string;
  /** The URL it came from. */
  url: string;
}

const CHUNK = 1 << 20;

/** Feed a file's bytes (or its first `limit` bytes) into hashes. */
async function hashFile(path: string, hashes: Hash[], limit = Infinity): Promise<number> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(CHUNK);
    let total = 0;
    while (total < limit) {
      const n = await f.read(buf.subarray(0, Math.min(CHUNK, limit - total)));
      if (n === null) break;
      for (const h of hashes) h.update(buf.subarray(0, n));
      total += n;
    }
    return total;
  } finally {
    f.close();
  }
}

/**
 * The sha256 and size of a file on disk.
 *
 * @example
 * ```ts
 * import { sha256File } from "@aprender/compute/io";
 * const p = await Deno.makeTempFile();
 * await Deno.writeTextFile(p, "abc");
 * console.log(await sha256File(p)); // { size: 3, sha256: "ba7816bf…" }
 * ```
 */
export async function sha256File(path: string): Promise<{ size: number; sha256: string }> {
  const h = createHash("sha256");
  const size = await hashFile(path, [h]);
  return { size, sha256: h.digest("hex") };
}

async function gitBlobSha1(path: string, size: number): Promise<string> {
  const h = createHash("sha1");
  h.update(new TextEncoder().encode(`blob ${size}\0`));
  await hashFile(path, [h]);
  return h.digest("hex");
}

/**
 * Check a finished file against what the host says; returns the mismatch as text, or null.
 */
export async function checkFile(path: string, exp: Expected): Promise<string | null> {
  const { size, sha256 } = await sha256File(path);
  if (exp.size !== undefined && size !== exp.size) return `size ${size} ≠ expected ${exp.size}`;
  if (exp.sha256 && sha256 !== exp.sha256.toLowerCase()) {
    return `sha256 ${sha256} ≠ expected ${exp.sha256}`;
  }
  if (exp.gitSha1) {
    const g = await gitBlobSha1(path, size);
    if (g !== exp.gitSha1.toLowerCase()) return `git sha1 ${g} ≠ expected ${exp.gitSha1}`;
  }
  return null;
}

/**
 * Hold an exclusive OS lock on `lockPath` while `fn` runs. The lock file stays (removing it would
 * let a third puller lock a fresh inode while a second still waits on the old one); the OS drops
 * the lock if the process dies.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(lockPath), { recursive: true });
  const f = await Deno.open(lockPath, { create: true, write: true });
  try {
    await f.lock(true);
    try {
      return await fn();
    } finally {
      await f.unlock();
    }
  } finally {
    f.close();
  }
}

function unquoteEtag(v: string | null): string | undefined {
  if (!v) return undefined;
  return v.replace(/^W\//, "").replace(/^"|"$/g, "");
}

interface Opened {
  resp: Response;
  /** Metadata the first hop of a hub redirect carries (X-Linked-Etag / X-Linked-Size). */
  linkedEtag?: string;
  linkedSize?: number;
  etag?: string;
}

async function openUrl(url: string, start: number, opts: DownloadOptions): Promise<Opened> {
  let u = new URL(url);
  let linkedEtag: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (opts.authHeaders && opts.authOrigin === u.origin) Object.assign(headers, opts.authHeaders);
    if (start > 0) headers.range = `bytes=${start}-`;
    let resp: Response;
    try {
      resp = await fetch(u, { redirect: "manual", headers, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new HubError(
        `could not reach ${u.origin} for ${u.href}: ${(e as Error).message}.`,
        { kind: "unreachable", url: u.href },
      );
    }
    linkedEtag ??= unquoteEtag(resp.headers.get("x-linked-etag"));
    const ls = resp.headers.get("x-linked-size");
    if (linkedSize === undefined && ls !== null && /^\d+$/.test(ls)) linkedSize = Number(ls);
    const loc = resp.headers.get("location");
    if (resp.status >= 300 && resp.status < 400 && loc) {
      await resp.body?.cancel();
      u = new URL(loc, u);
      continue;
    }
    return { resp, linkedEtag, linkedSize, etag: unquoteEtag(resp.headers.get("etag")) };
  }
  throw new HubError(`too many redirects from ${url}.`, { kind: "http", url });
}

/** `bytes a-b/total` → [a, total?]. */
function contentRange(v: string | null): [number, number | undefined] | null {
  const m = v && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return null;
  return [Number(m[1]), m[3] === "*" ? undefined : Number(m[3])];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Download `url` into `dest` through `dest + ".part"`, resuming a part left by an earlier run,
 * verifying size and hash, then renaming atomically. The caller holds the file's lock.
 */
export async function downloadFile(
  url: string,
  dest: string,
  expected: Expected,
  opts: DownloadOptions = {},
): Promise<FileRecord> {
  const part = dest + ".part";
  const name = dest.split(/[\\/]/).pop()!;
  await Deno.mkdir(dirname(dest), { recursive: true });
  const retries = opts.retries ?? 3;
  let lastError: HubError | null = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(Math.min(100 * 2 ** attempt, 2000));
    let start = 0;
    try {
      start = (await Deno.stat(part)).size;
    } catch { /* no part yet */ }
    if (expected.size !== undefined && start > expected.size) {
      await Deno.truncate(part, 0);
      start = 0;
    }
    const { resp, linkedEtag, linkedSize, etag } = await openUrl(url, start, opts);
    const exp: Expected = { ...expected };
    if (!exp.sha256 && linkedEtag && /^[0-9a-f]{64}$/i.test(linkedEtag)) exp.sha256 = linkedEtag;
    if (!exp.sha256 && !exp.gitSha1 && !linkedEtag && etag) {
      if (/^[0-9a-f]{64}$/i.test(etag)) exp.sha256 = etag;
      else if (opts.hubEtags && /^[0-9a-f]{40}$/i.test(etag)) exp.gitSha1 = etag;
    }
    exp.size ??= linkedSize;
    if (resp.status === 404 || resp.status === 401 || resp.status === 403) {
      await resp.body?.cancel();
      throw new HubError(
        `${url}: HTTP ${resp.status} ${resp.statusText}` +
          (resp.status === 404
            ? " (no such file or repository)."
            : " (private or gated: set HF_TOKEN)."),
        { kind: "not-found", url, status: resp.status, cachePath: dest },
      );
    }
    if (resp.status === 416) {
      // The part already holds every byte: check it below.
      await resp.body?.cancel();
    } else if (resp.status !== 200 && resp.status !== 206) {
      await resp.body?.cancel();
      lastError = new HubError(`${url}: HTTP ${resp.status} ${resp.statusText}.`, {
        kind: "http",
        url,
        status: resp.status,
        cachePath: dest,
      });
      if (resp.status >= 500 || resp.status === 429) continue;
      throw lastError;
    }
    let total = exp.size;
    if (resp.status === 206) {
      const cr = contentRange(resp.headers.get("content-range"));
      if (!cr || cr[0] !== start) {
        // A range we did not ask for: start over.
        await resp.body?.cancel();
        await Deno.truncate(part, 0).catch(() => {});
        lastError = new HubError(`${url}: server answered range ${cr?.[0]} for ${start}.`, {
          kind: "http",
          url,
        });
        continue;
      }
      total ??= cr[1];
    } else if (resp.status === 200) {
      start = 0;
      const cl = resp.headers.get("content-length");
      if (total === undefined && cl !== null && /^\d+$/.test(cl)) total = Number(cl);
    }
    const sha = createHash("sha256");
    const f = await Deno.open(part, { create: true, write: true, truncate: start === 0 });
    let received = start;
    try {
      if (start > 0) await hashFile(part, [sha], start);
      await f.seek(start, Deno.SeekMode.Start);
      if (resp.status !== 416 && resp.body) {
        const t0 = performance.now();
        let lastReport = 0;
        const report = (done: boolean) => {
          const secs = (performance.now() - t0) / 1000;
          const bps = secs > 0 ? (received - start) / secs : 0;
          opts.onProgress?.({
            file: name,
            received,
            total,
            bytesPerSecond: bps,
            etaSeconds: total !== undefined && bps > 0 ? (total - received) / bps : undefined,
            done,
          });
        };
        // Network chunks are small (16–64 KiB): write in 1 MiB pieces.
        const buf = new Uint8Array(CHUNK);
        let fill = 0;
        const put = async (b: Uint8Array) => {
          let off = 0;
          while (off < b.length) off += await f.write(b.subarray(off));
        };
        const flush = async () => {
          await put(buf.subarray(0, fill));
          fill = 0;
        };
        try {
          for await (const chunk of resp.body) {
            if (total !== undefined && received + chunk.length > total) {
              throw new HubError(
                `${url}: the server sent more than the ${total} bytes it announced.`,
                { kind: "integrity", url, cachePath: dest },
              );
            }
            if (fill + chunk.length > buf.length) await flush();
            if (chunk.length >= buf.length) await put(chunk);
            else {
              buf.set(chunk, fill);
              fill += chunk.length;
            }
            sha.update(chunk);
            received += chunk.length;
            const now = performance.now();
            if (now - lastReport > 100) {
              lastReport = now;
              report(false);
            }
          }
          await flush();
        } catch (e) {
          // Keep every byte received (a resume starts after them).
          await flush();
          if (e instanceof HubError || opts.signal?.aborted) throw e;
          lastError = new HubError(
            `${url}: the connection was cut at ${received}` +
              (total !== undefined ? ` of ${total}` : "") +
              ` bytes (${(e as Error).message}). Run the pull again to resume from there.`,
            { kind: "cut", url, cachePath: dest },
          );
          continue;
        }
        report(true);
      }
      await f.sync();
    } finally {
      f.close();
    }
    if (total !== undefined && received < total) {
      lastError = new HubError(
        `${url}: got ${received} of ${total} bytes. Run the pull again to resume.`,
        { kind: "cut", url, cachePath: dest },
      );
      continue;
    }
    const digest = sha.digest("hex");
    let mismatch: string | null = null;
    if (exp.size !== undefined && received !== exp.size) {
      mismatch = `size ${received} ≠ expected ${exp.size}`;
    } else if (exp.sha256 && digest !== exp.sha256.toLowerCase()) {
      mismatch = `sha256 ${digest} ≠ expected ${exp.sha256}`;
    } else if (exp.gitSha1) {
      const g = await gitBlobSha1(part, received);
      if (g !== exp.gitSha1.toLowerCase()) mismatch = `git sha1 ${g} ≠ expected ${exp.gitSha1}`;
    }
    if (mismatch) {
      await Deno.remove(part).catch(() => {});
      lastError = new HubError(
        `${url}: the downloaded bytes do not match the host's checksum (${mismatch}); ` +
          `the file was discarded.`,
        { kind: "integrity", url, cachePath: dest },
      );
      continue;
    }
    await Deno.rename(part, dest);
    return { size: received, sha256: digest, url };
  }
  throw lastError ?? new HubError(`${url}: download failed.`, { kind: "http", url });
}
