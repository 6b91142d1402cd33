/**
 * Where the hub client looks: the host endpoint (`HF_ENDPOINT`, as huggingface_hub reads it), the
 * cache directory (`APRENDER_CACHE`, else the platform's cache folder), offline mode
 * (`APRENDER_OFFLINE=1` or `HF_HUB_OFFLINE=1`) and an access token (`HF_TOKEN`).
 *
 * @module
 */
import { join } from "node:path";

/** The public host used when `HF_ENDPOINT` is not set. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** An environment variable, or undefined when unset or not permitted (`--allow-env`). */
export function envVar(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);

/**
 * The cache directory: `APRENDER_CACHE`; else `%LOCALAPPDATA%\aprender` on Windows,
 * `~/Library/Caches/aprender` on macOS, `$XDG_CACHE_HOME/aprender` or `~/.cache/aprender`
 * elsewhere.
 *
 * @example
 * ```ts
 * import { hubCacheDir } from "@aprender/compute/io";
 * console.log(hubCacheDir()); // e.g. /home/me/.cache/aprender
 * ```
 */
export function hubCacheDir(): string {
  const own = envVar("APRENDER_CACHE");
  if (own) return own;
  const home = envVar("HOME") ?? envVar("USERPROFILE") ?? ".";
  if (Deno.build.os === "windows") {
    return join(envVar("LOCALAPPDATA") ?? join(home, "AppData", "Local"), "aprender");
  }
  if (Deno.build.os === "darwin") return join(home, "Library", "Caches", "aprender");
  return join(envVar("XDG_CACHE_HOME") ?? join(home, ".cache"), "aprender");
}

/**
 * The hub endpoint: `HF_ENDPOINT` without a trailing slash, else https://huggingface.co.
 *
 * @example
 * ```ts
 * import { hubEndpoint } from "@aprender/compute/io";
 * console.log(hubEndpoint()); // "https://huggingface.co" unless HF_ENDPOINT is set
 * ```
 */
export function hubEndpoint(): string {
  return (envVar("HF_ENDPOINT") ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

/**
 * Whether offline mode is on in the environment (`APRENDER_OFFLINE` or `HF_HUB_OFFLINE`).
 *
 * @example
 * ```ts
 * import { hubOffline } from "@aprender/compute/io";
 * if (hubOffline()) console.log("using the cache only");
 * ```
 */
export function hubOffline(): boolean {
  return truthy(envVar("APRENDER_OFFLINE")) || truthy(envVar("HF_HUB_OFFLINE"));
}

/** The access token from `HF_TOKEN`, sent to the endpoint only (never to a CDN it redirects to). */
export function hubToken(): string | undefined {
  return envVar("HF_TOKEN");
}
