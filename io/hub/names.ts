/**
 * Model names: what `pull` and `resolveModel` accept besides a local path.
 *
 * - `hf://owner/repo/path/in/repo.gguf` (with `@revision` after the repo if wanted),
 * - `owner/repo` or `owner/repo:Q4_K_M` (a GGUF quant picked from the repo's file list, as
 *   llama.cpp's `-hf` does; without a tag: the only model in the repo, else Q4_K_M),
 * - `https://host/any/file.gguf` (a plain URL).
 *
 * @module
 */
import { HubError } from "./errors.ts";

/** A parsed model name. */
export type ModelName =
  | { kind: "hf-file"; repo: string; revision: string; path: string }
  | { kind: "hf-repo"; repo: string; revision: string; tag?: string }
  | { kind: "url"; url: string };

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._\/-]*$/;

/**
 * Whether a path inside a repository is safe to mirror in the cache: relative, no `..` or `.`
 * segments, no backslashes or control characters.
 */
export function safeRepoPath(path: string): boolean {
  if (
    !path || path.length > 1024 || path.startsWith("/") || /[\\]/.test(path) ||
    [...path].some((c) => c.charCodeAt(0) < 32)
  ) {
    return false;
  }
  return path.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

function checkRepo(repo: string, name: string): void {
  const parts = repo.split("/");
  if (parts.length !== 2 || !parts.every((p) => SEGMENT.test(p) && !p.includes(".."))) {
    throw new HubError(
      `model name ${JSON.stringify(name)}: "${repo}" is not a repository id (owner/name with ` +
        `letters, digits, '.', '_' or '-'). Hint: write hf://owner/repo/file.gguf or owner/repo:Q4_K_M.`,
      { kind: "name" },
    );
  }
}

function splitRevision(repoPart: string, name: string): [string, string] {
  const at = repoPart.indexOf("@");
  if (at < 0) return [repoPart, "main"];
  const rev = repoPart.slice(at + 1);
  if (!REVISION.test(rev) || rev.split("/").includes("..")) {
    throw new HubError(`model name ${JSON.stringify(name)}: bad revision "${rev}".`, {
      kind: "name",
    });
  }
  return [repoPart.slice(0, at), rev];
}

/**
 * Whether a string looks like a hub name or URL rather than a file path. A string that names an
 * existing file is a path whatever it looks like; `resolveModel` checks that first.
 *
 * @example
 * ```ts
 * import { isModelName } from "@aprender/compute/io";
 * console.log(isModelName("Qwen/Qwen3-0.6B-GGUF:Q8_0")); // true
 * console.log(isModelName("./models/m.gguf")); // false
 * ```
 */
export function isModelName(s: string): boolean {
  if (/^hf:\/\//.test(s) || /^https?:\/\//i.test(s)) return true;
  return /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._\/-]+)?(:[A-Za-z0-9._-]+)?$/
    .test(s) && !/\.(gguf|safetensors|onnx|json|bin)$/i.test(s);
}

/**
 * Parse a model name (see the module doc for the forms).
 *
 * @example
 * ```ts
 * import { parseModelName } from "@aprender/compute/io";
 * console.log(parseModelName("bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"));
 * // { kind: "hf-repo", repo: "bartowski/Llama-3.2-1B-Instruct-GGUF", revision: "main", tag: "Q4_K_M" }
 * ```
 */
export function parseModelName(name: string): ModelName {
  if (/^https?:\/\//i.test(name)) {
    let u: URL;
    try {
      u = new URL(name);
    } catch {
      throw new HubError(`model name ${JSON.stringify(name)}: not a valid URL.`, { kind: "name" });
    }
    return { kind: "url", url: u.href };
  }
  if (name.startsWith("hf://")) {
    const rest = name.slice(5);
    const parts = rest.split("/");
    if (parts.length < 3) {
      throw new HubError(
        `model name ${JSON.stringify(name)}: hf:// needs owner/repo/path-to-file. ` +
          `Hint: for quant selection write owner/repo:Q4_K_M without hf://.`,
        { kind: "name" },
      );
    }
    const [repoName, revision] = splitRevision(parts[1], name);
    const repo = `${parts[0]}/${repoName}`;
    checkRepo(repo, name);
    const path = parts.slice(2).join("/");
    if (!safeRepoPath(path)) {
      throw new HubError(`model name ${JSON.stringify(name)}: bad file path "${path}".`, {
        kind: "name",
      });
    }
    return { kind: "hf-file", repo, revision, path };
  }
  const colon = name.lastIndexOf(":");
  const head = colon > 0 ? name.slice(0, colon) : name;
  const tag = colon > 0 ? name.slice(colon + 1) : undefined;
  if (tag !== undefined && !/^[A-Za-z0-9._-]+$/.test(tag)) {
    throw new HubError(`model name ${JSON.stringify(name)}: bad tag "${tag}".`, { kind: "name" });
  }
  const slash = head.indexOf("/");
  const owner = head.slice(0, slash);
  const [repoName, revision] = splitRevision(head.slice(slash + 1), name);
  const repo = `${owner}/${repoName}`;
  checkRepo(repo, name);
  return { kind: "hf-repo", repo, revision, tag };
}
