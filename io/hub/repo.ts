/**
 * A hub repository's file list (`GET /api/models/{repo}/tree/{revision}?recursive=true`, pages
 * followed through `Link: <…>; rel="next"`) and the choice of files a name means: a GGUF quant
 * (all shards of a split file), sharded safetensors through `model.safetensors.index.json`, or an
 * ONNX graph with its external-data files.
 *
 * @module
 */
import { HubError } from "./errors.ts";
import { safeRepoPath } from "./names.ts";

/** One file of a repository, as the tree API lists it. */
export interface RepoFile {
  /** Path inside the repository. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Git blob sha1 of the file (of the LFS pointer for LFS files). */
  oid?: string;
  /** sha256 of an LFS file's content. */
  lfsSha256?: string;
}

/**
 * Validate a tree API answer: an array of `{type, path, size, oid?, lfs?: {oid, size}}`. Folders
 * are dropped; a file with an unsafe path or bad size is an error (the host is not trusted).
 */
export function parseTree(json: unknown, url: string): RepoFile[] {
  if (!Array.isArray(json)) {
    throw new HubError(`${url}: expected a JSON array of files, got ${typeof json}.`, {
      kind: "http",
      url,
    });
  }
  const out: RepoFile[] = [];
  for (const e of json) {
    if (typeof e !== "object" || e === null) continue;
    const r = e as Record<string, unknown>;
    if (r.type !== "file") continue;
    const path = r.path, size = r.size;
    if (typeof path !== "string" || !safeRepoPath(path)) {
      throw new HubError(`${url}: file list has a bad path ${JSON.stringify(path)}.`, {
        kind: "http",
        url,
      });
    }
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new HubError(`${url}: file ${path} has a bad size ${JSON.stringify(size)}.`, {
        kind: "http",
        url,
      });
    }
    const f: RepoFile = { path, size };
    if (typeof r.oid === "string" && /^[0-9a-f]{40}$/i.test(r.oid)) f.oid = r.oid;
    const lfs = r.lfs as Record<string, unknown> | undefined;
    if (lfs && typeof lfs === "object") {
      if (typeof lfs.oid !== "string" || !/^[0-9a-f]{64}$/i.test(lfs.oid)) {
        throw new HubError(`${url}: file ${path} has a bad LFS oid.`, { kind: "http", url });
      }
      f.lfsSha256 = lfs.oid;
      if (typeof lfs.size === "number" && lfs.size !== size) {
        throw new HubError(`${url}: file ${path}: LFS size ${lfs.size} ≠ size ${size}.`, {
          kind: "http",
          url,
        });
      }
    }
    out.push(f);
  }
  return out;
}

/** The next page of a paginated answer (`Link: <url>; rel="next"`). */
export function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

const SPLIT = /-(\d{5})-of-(\d{5})\.gguf$/i;
const QUANT =
  /(?:^|[-_.])((?:UD-)?(?:I?Q\d(?:_[A-Z0-9]+)*|F16|F32|BF16|MXFP4(?:_[A-Z0-9]+)*|TQ\d_\d))(?=[-_.])/i;
/** Tags tried in order when a repo holds several quants and the name gives none. */
const DEFAULT_TAGS = ["Q4_K_M", "Q4_0", "Q8_0", "F16", "BF16", "F32"];

/** The quant tag in a GGUF file name (`model-Q4_K_M.gguf` → `Q4_K_M`), upper-cased. */
export function quantTag(path: string): string | undefined {
  const base = path.split("/").pop()!.replace(SPLIT, ".gguf");
  const m = QUANT.exec(base);
  return m?.[1].toUpperCase();
}

/** The files one name means and the one to open. */
export interface Selection {
  /** The file to open (the first shard of a split GGUF, the safetensors index, the .onnx). */
  main: string;
  /** Every file to download. */
  files: RepoFile[];
  /** Whether `main` is a safetensors index whose shards are chosen after reading it. */
  index?: boolean;
}

const COMPANIONS = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "preprocessor_config.json",
];

function ggufGroups(files: RepoFile[]): Map<string, RepoFile[]> {
  const groups = new Map<string, RepoFile[]>();
  for (const f of files) {
    if (!/\.gguf$/i.test(f.path) || /(^|\/)mmproj/i.test(f.path)) continue;
    const key = f.path.replace(SPLIT, "");
    const g = groups.get(key) ?? [];
    g.push(f);
    groups.set(key, g);
  }
  return groups;
}

function splitComplete(repo: string, g: RepoFile[]): RepoFile[] {
  g.sort((a, b) => a.path.localeCompare(b.path));
  const m = SPLIT.exec(g[0].path);
  if (!m) return [g[0]];
  const n = Number(m[2]);
  if (g.length !== n) {
    throw new HubError(
      `${repo}: split GGUF ${g[0].path} has ${g.length} of ${n} shards in the file list.`,
      { kind: "not-found" },
    );
  }
  return g;
}

/**
 * Choose what `owner/repo[:tag]` means in a file list: a GGUF quant if the repo has GGUF files
 * (the tag, else the only one, else Q4_K_M, Q4_0, Q8_0, F16, BF16, F32 in that order), else
 * safetensors (index or single file), else ONNX; config and tokenizer files come along.
 */
export function selectFiles(repo: string, files: RepoFile[], tag?: string): Selection {
  const byPath = new Map(files.map((f) => [f.path, f]));
  if (tag && byPath.has(tag)) return { main: tag, files: [byPath.get(tag)!] };
  const groups = ggufGroups(files);
  if (groups.size) {
    const entries = [...groups.entries()].sort((a, b) =>
      a[0].split("/").length - b[0].split("/").length || a[0].length - b[0].length
    );
    const want = tag ? [tag.toUpperCase()] : entries.length === 1 ? [] : DEFAULT_TAGS;
    let pick = want.length === 0 ? entries[0] : undefined;
    for (const t of want) {
      pick = entries.find(([k]) => quantTag(k + ".gguf") === t || quantTag(k) === t);
      if (pick) break;
    }
    if (!pick) {
      const tags = [...new Set(entries.map(([k, g]) => quantTag(g[0].path) ?? k))].sort();
      throw new HubError(
        `${repo}: no GGUF file ${tag ? `with quant ${tag}` : "chosen by default"}; ` +
          `the repo has ${tags.join(", ")}. Hint: name one as ${repo}:${tags[0]}.`,
        { kind: "not-found" },
      );
    }
    const g = splitComplete(repo, pick[1]);
    return { main: g[0].path, files: g };
  }
  if (tag) {
    throw new HubError(
      `${repo}: quant tag ${tag} given but the repo has no GGUF files ` +
        `(${files.length} files: ${files.slice(0, 8).map((f) => f.path).join(", ")}…).`,
      { kind: "not-found" },
    );
  }
  const companions = COMPANIONS.flatMap((p) => byPath.has(p) ? [byPath.get(p)!] : []);
  if (byPath.has("model.safetensors.index.json")) {
    return {
      main: "model.safetensors.index.json",
      files: [byPath.get("model.safetensors.index.json")!, ...companions],
      index: true,
    };
  }
  if (byPath.has("model.safetensors")) {
    return { main: "model.safetensors", files: [byPath.get("model.safetensors")!, ...companions] };
  }
  const onnx = ["model.onnx", "onnx/model.onnx"].find((p) => byPath.has(p)) ??
    files.find((f) => /\.onnx$/i.test(f.path))?.path;
  if (onnx) {
    const extern = files.filter((f) =>
      f.path !== onnx && f.path.startsWith(onnx) &&
      /^(_data|\.data|_data_\d+)$/.test(f.path.slice(onnx.length))
    );
    return { main: onnx, files: [byPath.get(onnx)!, ...extern, ...companions] };
  }
  throw new HubError(
    `${repo}: no GGUF, safetensors or ONNX model in its ${files.length} files.`,
    { kind: "not-found" },
  );
}

/**
 * The shard files a `model.safetensors.index.json` names (its `weight_map` values), checked to be
 * safe paths next to the index.
 */
export function indexShards(text: string, where: string): string[] {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new HubError(`${where}: not JSON (${(e as Error).message}).`, { kind: "integrity" });
  }
  const map = (j as { weight_map?: unknown })?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new HubError(`${where}: no "weight_map" object.`, { kind: "integrity" });
  }
  const shards = new Set<string>();
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== "string" || !safeRepoPath(v)) {
      throw new HubError(
        `${where}: weight_map["${k}"] = ${JSON.stringify(v)} is not a file name.`,
        {
          kind: "integrity",
        },
      );
    }
    shards.add(v);
  }
  return [...shards].sort();
}
