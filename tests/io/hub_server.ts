/**
 * A loopback stand-in for a Hugging Face-style model host, for the hub client's tests. It serves
 * the host's real layout: the tree API (`/api/models/{repo}/tree/{rev}`, paginated by `Link`),
 * `/{repo}/resolve/{rev}/{path}` answering LFS files with a 302 to a CDN server on another origin
 * (with `X-Linked-Etag` = sha256 and `X-Linked-Size`) and small files with 200 + a git-sha1 ETag,
 * and HTTP Range requests. Faults are injected per file: a cut mid-body, a flipped byte, a delay.
 */
import { createHash } from "node:crypto";

/** A file of a served repository. */
export interface ServedFile {
  bytes: Uint8Array;
  /** Stored in LFS (redirected to the CDN, sha256 etag). */
  lfs: boolean;
}

/** One request the server saw. */
export interface Seen {
  origin: "api" | "cdn";
  path: string;
  range: string | null;
  auth: string | null;
}

/** Faults for the next requests of a file's body (by repo path). */
export interface Faults {
  /** Cut the next full or ranged body after this many bytes (then clear). */
  cutAfter?: number;
  /** Flip a byte at this offset in the next body (then clear). */
  corruptAt?: number;
  /** Milliseconds between 16 KiB chunks of every body. */
  chunkDelayMs?: number;
}

const memo = new WeakMap<Uint8Array, string>();
/** Hex sha256 (memoized per buffer: the server hashes big files once, not per request). */
export const sha256 = (b: Uint8Array): string => {
  let h = memo.get(b);
  if (h === undefined) memo.set(b, h = createHash("sha256").update(b).digest("hex"));
  return h;
};
export const gitSha1 = (b: Uint8Array) =>
  createHash("sha1").update(new TextEncoder().encode(`blob ${b.length}\0`)).update(b).digest("hex");

/** Deterministic pseudo-random bytes. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 255;
  }
  return out;
}

/** The running host: endpoint URL, its repos, faults and request log. */
export class HubServer {
  readonly repos = new Map<string, Map<string, ServedFile>>();
  readonly faults = new Map<string, Faults>();
  readonly seen: Seen[] = [];
  pageSize = 1000;
  private api!: Deno.HttpServer<Deno.NetAddr>;
  private cdn!: Deno.HttpServer<Deno.NetAddr>;
  private byHash = new Map<string, { path: string; file: ServedFile }>();

  /** Base URL of the host (HF_ENDPOINT). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.api.addr.port}`;
  }

  /** Base URL of the CDN the host redirects LFS files to. */
  get cdnUrl(): string {
    return `http://127.0.0.1:${this.cdn.addr.port}`;
  }

  /** Start both servers on ephemeral loopback ports. */
  static start(): HubServer {
    const s = new HubServer();
    const opts = {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError: () => new Response(null, { status: 500 }),
    };
    s.api = Deno.serve(opts, (r) => s.handleApi(r));
    s.cdn = Deno.serve(opts, (r) => s.handleCdn(r));
    return s;
  }

  /** Add or replace a repository's files. */
  addRepo(repo: string, files: Record<string, ServedFile>): void {
    const m = new Map(Object.entries(files));
    this.repos.set(repo, m);
    for (const [path, file] of m) this.byHash.set(sha256(file.bytes), { path, file });
  }

  /** Stop both servers. */
  async close(): Promise<void> {
    await Promise.all([this.api.shutdown(), this.cdn.shutdown()]);
  }

  /** Requests for one file's bytes (resolve hits on the host plus CDN hits). */
  bodyRequests(path: string): Seen[] {
    return this.seen.filter((s) => s.path.endsWith("/" + path) || s.path === path);
  }

  private log(origin: "api" | "cdn", path: string, req: Request) {
    this.seen.push({
      origin,
      path,
      range: req.headers.get("range"),
      auth: req.headers.get("authorization"),
    });
  }

  private handleApi(req: Request): Response {
    const u = new URL(req.url);
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(u.pathname);
    if (tree) {
      this.log("api", u.pathname, req);
      const files = this.repos.get(tree[1]);
      if (!files || decodeURIComponent(tree[2]) !== "main") {
        return Response.json({ error: "Repository not found" }, {
          status: 404,
          headers: { "x-error-code": "RepositoryNotFound" },
        });
      }
      const all = [...files.entries()].map(([path, f]) => {
        const e: Record<string, unknown> = { type: "file", path, size: f.bytes.length };
        if (f.lfs) {
          const pointer = new TextEncoder().encode(
            `version https://git-lfs.github.com/spec/v1\noid sha256:${
              sha256(f.bytes)
            }\nsize ${f.bytes.length}\n`,
          );
          e.oid = gitSha1(pointer);
          e.lfs = { oid: sha256(f.bytes), size: f.bytes.length, pointerSize: pointer.length };
        } else e.oid = gitSha1(f.bytes);
        return e;
      });
      const dirs = new Set(
        [...files.keys()].filter((p) => p.includes("/")).map((p) => p.split("/")[0]),
      );
      const entries = [
        ...[...dirs].map((d) => ({ type: "directory", path: d, oid: "0".repeat(40), size: 0 })),
        ...all,
      ];
      const cursor = Number(u.searchParams.get("cursor") ?? 0);
      const page = entries.slice(cursor, cursor + this.pageSize);
      const headers: Record<string, string> = {};
      if (cursor + this.pageSize < entries.length) {
        headers.link = `<${u.pathname}?recursive=true&cursor=${
          cursor + this.pageSize
        }>; rel="next"`;
      }
      return Response.json(page, { headers });
    }
    const res = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(u.pathname);
    if (res) {
      const path = res[3].split("/").map(decodeURIComponent).join("/");
      this.log("api", `${res[1]}/${path}`, req);
      const f = this.repos.get(res[1])?.get(path);
      if (!f || decodeURIComponent(res[2]) !== "main") {
        return new Response("Entry not found", {
          status: 404,
          headers: { "x-error-code": "EntryNotFound" },
        });
      }
      if (f.lfs) {
        const h = sha256(f.bytes);
        return new Response(null, {
          status: 302,
          headers: {
            location: `${this.cdnUrl}/repos/${h}?filename=${encodeURIComponent(path)}`,
            "x-linked-etag": `"${h}"`,
            "x-linked-size": String(f.bytes.length),
            "x-repo-commit": "0123456789abcdef0123456789abcdef01234567",
            etag: `"${h}"`,
          },
        });
      }
      return this.body(req, path, f.bytes, `"${gitSha1(f.bytes)}"`);
    }
    return new Response("not found", { status: 404 });
  }

  private handleCdn(req: Request): Response {
    const u = new URL(req.url);
    const m = /^\/repos\/([0-9a-f]{64})$/.exec(u.pathname);
    const hit = m && this.byHash.get(m[1]);
    if (!hit) return new Response("no such object", { status: 404 });
    this.log("cdn", hit.path, req);
    return this.body(req, hit.path, hit.file.bytes, `"${m![1]}"`);
  }

  private body(req: Request, path: string, bytes: Uint8Array, etag: string): Response {
    let start = 0;
    const range = req.headers.get("range");
    const headers: Record<string, string> = { etag, "accept-ranges": "bytes" };
    let status = 200;
    if (range) {
      const r = /^bytes=(\d+)-$/.exec(range);
      if (!r) return new Response("bad range", { status: 400 });
      start = Number(r[1]);
      if (start >= bytes.length) {
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${bytes.length}` },
        });
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    headers["content-length"] = String(bytes.length - start);
    const fault = this.faults.get(path) ?? {};
    let data = fault.corruptAt !== undefined ? bytes.slice(start) : bytes.subarray(start);
    if (fault.corruptAt !== undefined && fault.corruptAt >= start) {
      data[fault.corruptAt - start] ^= 0x40;
      fault.corruptAt = undefined;
    }
    const cut = fault.cutAfter;
    fault.cutAfter = undefined;
    if (cut !== undefined) data = data.subarray(0, cut);
    const delay = fault.chunkDelayMs ?? 0;
    let off = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (off >= data.length) {
          if (cut !== undefined) c.error(new Error("cut by the test server"));
          else c.close();
          return;
        }
        if (delay) await new Promise((r) => setTimeout(r, delay));
        const n = Math.min(16384, data.length - off);
        c.enqueue(data.slice(off, off + n));
        off += n;
      },
    });
    return new Response(stream, { status, headers });
  }
}
