/**
 * Where GGUF bytes come from: a file read by offset, or a buffer already in memory.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";

/** Random-access bytes: a file or a buffer. `read` returns exactly `len` bytes at `pos`. */
export interface GgufSource {
  /** Total bytes. */
  readonly size: number;
  /** The `len` bytes at `pos` (the caller keeps `pos + len <= size`). */
  read(pos: number, len: number): Uint8Array;
  /** Release the underlying file, if any. */
  close(): void;
}

/**
 * A source over bytes already in memory (no copy).
 *
 * @example
 * ```ts
 * import { memorySource } from "@aprender/compute/io";
 * console.log(memorySource(new Uint8Array(8)).size); // 8
 * ```
 */
export function memorySource(bytes: Uint8Array): GgufSource {
  return { size: bytes.length, read: (p, n) => bytes.subarray(p, p + n), close() {} };
}

/** A source reading `file` (of `size` bytes) by offset with blocking seeks and reads. */
export function fileSource(file: Deno.FsFile, size: number): GgufSource {
  return {
    size,
    read(pos, len) {
      const out = new Uint8Array(len);
      file.seekSync(pos, Deno.SeekMode.Start);
      let got = 0;
      while (got < len) {
        const n = file.readSync(out.subarray(got));
        if (n === null || n === 0) throw new FormatError(`gguf: file ended at byte ${pos + got}`);
        got += n;
      }
      return out;
    },
    close: () => file.close(),
  };
}
