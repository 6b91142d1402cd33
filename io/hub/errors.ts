/**
 * The error the model hub client throws: a name it cannot parse, a file the host does not have, a
 * network it cannot reach, offline mode without the file in the cache, or a download whose bytes
 * do not match the host's checksum. The message says where to put the file by hand when that is
 * the way out.
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";

/** What went wrong in a hub operation. */
export type HubErrorKind =
  | "name"
  | "not-found"
  | "unreachable"
  | "offline"
  | "http"
  | "integrity"
  | "cut";

/** Where the failing file comes from and where the cache expects it. */
export interface HubErrorInfo {
  /** What went wrong. */
  kind: HubErrorKind;
  /** The URL that failed, when one did. */
  url?: string;
  /** Where the file belongs in the cache (put a hand-downloaded copy there). */
  cachePath?: string;
  /** HTTP status, for `http` and `not-found`. */
  status?: number;
}

/**
 * A model hub failure (see {@link HubErrorKind}); `cachePath` tells where a hand-downloaded copy
 * of the file would be picked up.
 *
 * @example
 * ```ts
 * import { HubError, pull } from "@aprender/compute/io";
 * try {
 *   await pull("hf://owner/repo/model.gguf", { offline: true, cacheDir: "/tmp/empty-cache" });
 * } catch (e) {
 *   if (e instanceof HubError) console.log(e.kind, e.cachePath);
 * }
 * ```
 */
export class HubError extends ComputeError {
  /** What went wrong. */
  readonly kind: HubErrorKind;
  /** The URL that failed, when one did. */
  readonly url?: string;
  /** Where the file belongs in the cache. */
  readonly cachePath?: string;
  /** HTTP status, for `http` and `not-found`. */
  readonly status?: number;

  /**
   * Create a hub error.
   *
   * @param message what failed, with the values and a hint
   * @param info kind, URL and cache path
   */
  constructor(message: string, info: HubErrorInfo) {
    super(message);
    this.kind = info.kind;
    this.url = info.url;
    this.cachePath = info.cachePath;
    this.status = info.status;
  }
}
