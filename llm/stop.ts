/**
 * Stop strings over streamed text: text is released only once it cannot be the start of a stop
 * string, and generation stops at the first stop string, which is not emitted.
 *
 * @module
 */
import { FormatError } from "../core/errors.ts";

/**
 * Watches streamed text for stop strings. Generation stops where a stop string first
 * completes (the earliest end; on a tie the longest stop); the concatenation of everything
 * {@link push} and {@link flush} return is the text before that stop string, or the whole text
 * when none occurs, however the text was split into chunks.
 *
 * @example
 * ```ts
 * import { StopMatcher } from "@aprender/compute/llm";
 * const m = new StopMatcher(["\nUser:"]);
 * console.log(m.push("Hello\nUs")); // { text: "Hello", stop: null }
 * console.log(m.push("er: hi")); // { text: "", stop: "\nUser:" }
 * ```
 */
export class StopMatcher {
  /** The stop strings. */
  readonly stops: readonly string[];
  private held = "";
  private stopped: string | null = null;

  /**
   * A matcher for the given stop strings.
   *
   * @param stops the stop strings (non-empty strings)
   * @throws FormatError for an empty or non-string stop
   */
  constructor(stops: readonly string[]) {
    stops.forEach((s, i) => {
      if (typeof s !== "string" || s.length === 0) {
        throw new FormatError(
          `StopMatcher: stops[${i}] must be a non-empty string, got ${
            typeof s === "string" ? '""' : typeof s
          }`,
        );
      }
    });
    this.stops = [...stops];
  }

  /** The stop string that ended the stream, or null. */
  get stop(): string | null {
    return this.stopped;
  }

  /**
   * Add streamed text.
   *
   * @param chunk the next piece of text
   * @returns the text now safe to emit, and the stop string if one completed
   */
  push(chunk: string): { text: string; stop: string | null } {
    if (this.stopped !== null) return { text: "", stop: this.stopped };
    const buf = this.held + chunk;
    // the stop that completes first (earliest end; on a tie the longest, i.e. earliest start),
    // so the result does not depend on how the text was chunked
    let end = Infinity, at = -1, which: string | null = null;
    for (const s of this.stops) {
      const k = buf.indexOf(s);
      if (k === -1) continue;
      const e = k + s.length;
      if (e < end || (e === end && k < at)) {
        end = e;
        at = k;
        which = s;
      }
    }
    if (which !== null) {
      this.stopped = which;
      this.held = "";
      return { text: buf.slice(0, at), stop: which };
    }
    // hold back the longest suffix that is a proper prefix of some stop string
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    // never split a surrogate pair between what is emitted and what is held
    let cut = buf.length - keep;
    if (cut > 0 && cut < buf.length && /[\uD800-\uDBFF]/.test(buf[cut - 1])) cut--;
    this.held = buf.slice(cut);
    return { text: buf.slice(0, cut), stop: null };
  }

  /**
   * End of stream: the held-back text (empty after a stop).
   *
   * @returns what is left to emit
   */
  flush(): string {
    const t = this.held;
    this.held = "";
    return t;
  }
}
