/**
 * `pull(name)`: make a model's files present in the cache and say where they are;
 * `resolveModel(nameOrPath)`: the one call the CLIs make before opening a model.
 *
 * Cache layout (under {@link hubCacheDir}):
 *
 *     hf/<owner>/<repo>/<revision>/<path in repo>     the files, as the repo lays them out
 *     hf/<owner>/<repo>/.tree/<revision>.json          the repo's file list (for offline choice)
 *     hf/<owner>/<repo>/.meta/<revision>/<path>.json   size and sha256 of each downloaded file
 *     url/<sha256(url)[:16]>/<file name>               plain URLs; meta in url/<…>.json
 *
 * A file put by hand at its place is used as it is in offline mode (and online when its size
 * matches the host's list).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hubCacheDir, hubEndpoint, hubOffline, hubToken } from "./config.ts";
import { HubError } from "./errors.ts";
import {
  checkFile,
  downloadFile,
  type Expected,
  type ProgressInfo,
  withFileLock,
} from "./download.ts";
import { isModelName, type ModelName, parseModelName } from "./names.ts";
import {
  indexShards,
  nextLink,
  parseTree,
  type RepoFile,
  selectFiles,
  type Selection,
} from "./repo.ts";

/** Options of {@link pull} and {@link resolveModel}. */
export interface PullOptions {
  /** Cache directory (default {@link hubCacheDir}). */
  cacheDir?: string;
  /** Hub endpoint (default `HF_ENDPOINT` or https://huggingface.co). */
  endpoint?: string;
  /** Use only the cache (default: `APRENDER_OFFLINE` / `HF_HUB_OFFLINE` in the environment). */
  offline?: boolean;
  /** Access token (default `HF_TOKEN`), sent to the endpoint only. */
  token?: string;
  /**
   * Re-hash files found in the cache against the host's checksum and refetch on mismatch
   * (default true for `pull`, false for `resolveModel`, which checks sizes only).
   */
  verify?: boolean;
  /** Attempts after the first, each resuming the last (default 3). */
  retries?: number;
  /** Download progress (see {@link progressBar}). */
  onProgress?: (p: ProgressInfo) => void;
  /** Cancels downloads; their `.part` files stay to be resumed. */
  signal?: AbortSignal;
}

/** What {@link pull} made present. */
export interface PullResult {
  /** The file to open: a GGUF (first shard), a safetensors file or index, an ONNX graph. */
  path: string;
  /** Every file of the model, local paths. */
  files: string[];
  /** Files downloaded in this call (the rest came from the cache). */
  downloaded: string[];
}

interface Ctx {
  cache: string;
  endpoint: string;
  offline: boolean;
  verify: boolean;
  token?: string;
  opts: PullOptions;
  downloaded: string[];
  /** Set when the host was unreachable and the pull went on from the cache. */
  fellBack?: string;
}

const enc = (rev: string) => encodeURIComponent(rev);
const exists = async (p: string) => {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
};

function repoDir(ctx: Ctx, repo: string): string {
  return join(ctx.cache, "hf", ...repo.split("/"));
}

function fileUrl(ctx: Ctx, repo: string, rev: string, path: string): string {
  return `${ctx.endpoint}/${repo}/resolve/${enc(rev)}/${
    path.split("/").map(encodeURIComponent).join("/")
  }`;
}

interface Meta {
  url: string;
  size: number;
  sha256: string;
}

async function readMeta(p: string): Promise<Meta | undefined> {
  try {
    const m = JSON.parse(await Deno.readTextFile(p));
    if (typeof m.size === "number" && typeof m.sha256 === "string") return m;
  } catch { /* absent or damaged: treated as unknown */ }
  return undefined;
}

function offlineError(ctx: Ctx, what: string, url: string, dest: string): HubError {
  if (ctx.fellBack) {
    return new HubError(
      `${ctx.fellBack} ${what} is not in the cache either. Without network: download ${url} by ` +
        `hand, put it at ${dest}, and run with APRENDER_OFFLINE=1.`,
      { kind: "unreachable", url, cachePath: dest },
    );
  }
  return new HubError(
    `${what} is not in the cache and offline mode is on` +
      `${ctx.opts.offline === undefined ? " (APRENDER_OFFLINE / HF_HUB_OFFLINE)" : ""}: ` +
      `expected ${dest}. ` +
      (dest.endsWith("/")
        ? `Download the model's files from ${url} by hand and put them in that folder`
        : `Download ${url} by hand and put it there`) +
      ", or turn offline mode off.",
    { kind: "offline", url, cachePath: dest },
  );
}

function unreachableHint(e: HubError, what: string, dest: string, from = e.url): HubError {
  const hand = dest.endsWith("/")
    ? `download the model's files from ${from} by hand, put them in ${dest}`
    : `download ${from} by hand, put it at ${dest}`;
  return new HubError(
    `${e.message} ${what} is not in the cache either. Without network: ${hand}, and run with ` +
      `APRENDER_OFFLINE=1.`,
    { kind: "unreachable", url: e.url, cachePath: dest },
  );
}

/** Make one file present at `dest`, from the cache or the network. */
async function ensureFile(
  ctx: Ctx,
  url: string,
  dest: string,
  metaPath: string,
  expected: Expected,
  hub: boolean,
): Promise<void> {
  if (ctx.offline) {
    if (await exists(dest)) return;
    throw offlineError(ctx, dest.split(/[\\/]/).pop()!, url, dest);
  }
  await withFileLock(dest + ".lock", async () => {
    if (await exists(dest)) {
      const meta = await readMeta(metaPath);
      const exp: Expected = { ...expected };
      exp.size ??= meta?.size;
      if (!exp.sha256 && !exp.gitSha1) exp.sha256 = meta?.sha256;
      let problem: string | null;
      if (ctx.verify) problem = await checkFile(dest, exp);
      else {
        // Cheap checks: the size, and the host's sha256 against the one recorded at download
        // (a new upload of the same size under the same name).
        const size = (await Deno.stat(dest)).size;
        problem = exp.size !== undefined && size !== exp.size ? `size ${size} ≠ ${exp.size}` : null;
        if (!problem && expected.sha256 && meta && meta.sha256 !== expected.sha256.toLowerCase()) {
          problem = `sha256 changed upstream`;
        }
      }
      if (!problem) return;
      await Deno.remove(dest);
    }
    const rec = await downloadFile(url, dest, expected, {
      authHeaders: ctx.token ? { authorization: `Bearer ${ctx.token}` } : undefined,
      authOrigin: new URL(ctx.endpoint).origin,
      retries: ctx.opts.retries,
      onProgress: ctx.opts.onProgress,
      signal: ctx.opts.signal,
      hubEtags: hub,
    });
    await Deno.mkdir(dirname(metaPath), { recursive: true });
    await Deno.writeTextFile(metaPath, JSON.stringify(rec));
    ctx.downloaded.push(dest);
  });
}

async function fetchTree(ctx: Ctx, repo: string, rev: string): Promise<RepoFile[]> {
  let url: string | undefined = `${ctx.endpoint}/api/models/${repo}/tree/${
    enc(rev)
  }?recursive=true`;
  const files: RepoFile[] = [];
  const origin = new URL(ctx.endpoint).origin;
  for (let page = 0; url && page < 1000; page++) {
    let resp: Response;
    try {
      resp = await fetch(url, {
        headers: ctx.token && new URL(url).origin === origin
          ? { authorization: `Bearer ${ctx.token}` }
          : {},
        signal: ctx.opts.signal,
      });
    } catch (e) {
      throw new HubError(`could not reach ${origin} for ${url}: ${(e as Error).message}.`, {
        kind: "unreachable",
        url,
      });
    }
    if (!resp.ok) {
      await resp.body?.cancel();
      throw new HubError(
        `${repo}: the file list ${url} answered HTTP ${resp.status}` +
          (resp.status === 404 ? ` (no repository ${repo} at revision ${rev}).` : "."),
        { kind: resp.status === 404 ? "not-found" : "http", url, status: resp.status },
      );
    }
    let json: unknown;
    try {
      json = await resp.json();
    } catch (e) {
      throw new HubError(`${url}: not JSON (${(e as Error).message}).`, { kind: "http", url });
    }
    files.push(...parseTree(json, url));
    const next = nextLink(resp.headers.get("link"));
    url = next ? new URL(next, url).href : undefined;
  }
  return files;
}

/** Files already in a cached revision folder, as a file list (for hand-placed files). */
async function listCached(dir: string): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  const walk = async (rel: string) => {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(dir, rel)));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && !/\.(part|lock)$/.test(e.name)) {
        out.push({ path: p, size: (await Deno.stat(join(dir, p))).size });
      }
    }
  };
  await walk("");
  return out;
}

async function repoFiles(ctx: Ctx, repo: string, rev: string): Promise<RepoFile[]> {
  const treePath = join(repoDir(ctx, repo), ".tree", `${enc(rev)}.json`);
  const cached = async () => {
    try {
      return parseTree(JSON.parse(await Deno.readTextFile(treePath)), treePath);
    } catch {
      return await listCached(join(repoDir(ctx, repo), enc(rev)));
    }
  };
  if (ctx.offline) {
    const files = await cached();
    if (files.length) return files;
    const dir = join(repoDir(ctx, repo), enc(rev)) + "/";
    throw offlineError(ctx, `${repo} (revision ${rev})`, `${ctx.endpoint}/${repo}`, dir);
  }
  try {
    const files = await fetchTree(ctx, repo, rev);
    await Deno.mkdir(dirname(treePath), { recursive: true });
    const tmp = `${treePath}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(
      tmp,
      JSON.stringify(files.map((f) => ({
        type: "file",
        path: f.path,
        size: f.size,
        oid: f.oid,
        lfs: f.lfsSha256 ? { oid: f.lfsSha256, size: f.size } : undefined,
      }))),
    );
    await Deno.rename(tmp, treePath);
    return files;
  } catch (e) {
    if (!(e instanceof HubError) || e.kind !== "unreachable") throw e;
    const files = await cached();
    if (!files.length) {
      throw unreachableHint(
        e,
        repo,
        join(repoDir(ctx, repo), enc(rev)) + "/",
        `${ctx.endpoint}/${repo}`,
      );
    }
    ctx.offline = true; // the network is down: serve this pull from the cache
    ctx.fellBack = e.message;
    return files;
  }
}

async function pullHub(ctx: Ctx, n: Exclude<ModelName, { kind: "url" }>) {
  const { repo, revision: rev } = n;
  const base = join(repoDir(ctx, repo), enc(rev));
  const metaBase = join(repoDir(ctx, repo), ".meta", enc(rev));
  const one = async (f: RepoFile | string, files?: RepoFile[]) => {
    const path = typeof f === "string" ? f : f.path;
    const info = typeof f === "string" ? files?.find((x) => x.path === f) : f;
    const dest = join(base, ...path.split("/"));
    const exp: Expected = info
      ? { size: info.size, sha256: info.lfsSha256, gitSha1: info.lfsSha256 ? undefined : info.oid }
      : {};
    const url = fileUrl(ctx, repo, rev, path);
    try {
      await ensureFile(ctx, url, dest, join(metaBase, ...path.split("/")) + ".json", exp, true);
    } catch (e) {
      if (e instanceof HubError && e.kind === "unreachable") {
        if (await exists(dest)) return dest;
        throw unreachableHint(e, path, dest);
      }
      throw e;
    }
    return dest;
  };
  if (n.kind === "hf-file") {
    const files = ctx.offline ? undefined : await repoFiles(ctx, repo, rev).catch(() => undefined);
    const p = await one(n.path, files);
    return { path: p, files: [p] };
  }
  const files = await repoFiles(ctx, repo, rev);
  const sel: Selection = selectFiles(repo, files, n.tag);
  const paths: string[] = [];
  for (const f of sel.files) paths.push(await one(f));
  if (sel.index) {
    const dir = sel.main.includes("/") ? sel.main.slice(0, sel.main.lastIndexOf("/") + 1) : "";
    for (const s of indexShards(await Deno.readTextFile(paths[0]), paths[0])) {
      paths.push(await one(dir + s, files));
    }
  }
  return { path: paths[0], files: paths };
}

async function pullUrl(ctx: Ctx, url: string) {
  const h = createHash("sha256").update(url).digest("hex").slice(0, 16);
  const u = new URL(url);
  const base = decodeURIComponent(u.pathname.split("/").pop() ?? "").replace(/[^\w.-]/g, "_");
  const name = base && base !== "." && base !== ".." ? base : "download";
  const dest = join(ctx.cache, "url", h, name);
  try {
    await ensureFile(ctx, url, dest, join(ctx.cache, "url", `${h}.json`), {}, false);
  } catch (e) {
    if (e instanceof HubError && e.kind === "unreachable") {
      if (await exists(dest)) return { path: dest, files: [dest] };
      throw unreachableHint(e, name, dest);
    }
    throw e;
  }
  return { path: dest, files: [dest] };
}

/**
 * Make a model's files present in the cache (downloading what is missing, resuming cut
 * downloads, verifying checksums) and return their local paths.
 *
 * @example
 * ```ts ignore
 * import { progressBar, pull } from "@aprender/compute/io";
 * const { path } = await pull("Qwen/Qwen3-0.6B-GGUF:Q8_0", { onProgress: progressBar() });
 * console.log(path); // ~/.cache/aprender/hf/Qwen/Qwen3-0.6B-GGUF/main/Qwen3-0.6B-Q8_0.gguf
 * ```
 */
export async function pull(name: string, options: PullOptions = {}): Promise<PullResult> {
  const parsed = parseModelName(name);
  const ctx: Ctx = {
    cache: options.cacheDir ?? hubCacheDir(),
    endpoint: (options.endpoint ?? hubEndpoint()).replace(/\/+$/, ""),
    offline: options.offline ?? hubOffline(),
    verify: options.verify ?? true,
    token: options.token ?? hubToken(),
    opts: options,
    downloaded: [],
  };
  const r = parsed.kind === "url" ? await pullUrl(ctx, parsed.url) : await pullHub(ctx, parsed);
  return { ...r, downloaded: ctx.downloaded };
}

/**
 * A local path for a model given by path or by name: an existing file or folder is returned as
 * it is; a hub name or URL ({@link isModelName}) is pulled into the cache (sizes checked, not
 * re-hashed); anything else is returned unchanged for the loader to report.
 *
 * @example
 * ```ts ignore
 * import { resolveModel } from "@aprender/compute/io";
 * import { loadModel } from "@aprender/compute/llm";
 * const model = await loadModel(await resolveModel("hf://owner/repo/model-Q8_0.gguf"));
 * ```
 */
export async function resolveModel(
  nameOrPath: string | URL,
  options: PullOptions = {},
): Promise<string> {
  if (nameOrPath instanceof URL) {
    if (nameOrPath.protocol === "file:") return fileURLToPath(nameOrPath);
    nameOrPath = nameOrPath.href;
  }
  try {
    await Deno.stat(nameOrPath);
    return nameOrPath;
  } catch { /* not a local file */ }
  if (!isModelName(nameOrPath)) return nameOrPath;
  return (await pull(nameOrPath, { verify: false, ...options })).path;
}
