/**
 * NumPy's `.npz` format: a ZIP archive of `.npy` files, one per named array (`name.npy`), stored
 * (`np.savez`) or deflated (`np.savez_compressed`).
 *
 * @module
 */
import { DTypeError, FormatError } from "../core/errors.ts";
import type { Tensor } from "../core/tensor.ts";
import { decodeNpyAs, npyFromData, type NpyReadOptions, readInput } from "./npy.ts";
import { readZip, writeZip, type ZipEntry } from "./zip.ts";
import { Budget, budgetOf, releaseInflated, writeOutput } from "./budget.ts";

/** Options of {@link encodeNpz} and {@link saveNpz}. */
export interface NpzWriteOptions {
  /** Deflate the entries, like `np.savez_compressed` (default false, like `np.savez`). */
  compress?: boolean;
}

function define(out: Record<string, Tensor>, key: string, t: Tensor): void {
  // defineProperty: a key such as "__proto__" must become an ordinary entry.
  Object.defineProperty(out, key, {
    value: t,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

async function decodeNpzAs(
  bytes: Uint8Array,
  options: NpyReadOptions,
  op: string,
): Promise<Record<string, Tensor>> {
  const name = options.name ?? "<bytes>";
  if (!(bytes instanceof Uint8Array)) {
    throw new FormatError(`${op}: ${name}: expected a Uint8Array of the file's bytes.`);
  }
  const budget = new Budget(op, name, budgetOf(op, options.maxBytes, bytes.length));
  const entries = await readZip(bytes, `${op}: ${name}`, budget);
  const out: Record<string, Tensor> = {};
  try {
    for (const e of entries) {
      const key = e.name.endsWith(".npy") ? e.name.slice(0, -4) : e.name;
      if (Object.hasOwn(out, key)) {
        throw new FormatError(`${op}: ${name}: the archive holds two arrays named "${key}".`);
      }
      define(out, key, decodeNpyAs(e.data, { ...options, name: `${name}, entry "${e.name}"` }, op));
    }
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw err;
  } finally {
    for (const e of entries) releaseInflated(e.data);
  }
  return out;
}

/**
 * Decode the bytes of a `.npz` archive into named tensors (the `.npy` suffix of each entry is
 * dropped). Stored and deflated entries, zip64 and data descriptors are read; sizes, offsets and
 * CRC-32 are checked, and a malformed archive throws a {@link FormatError} naming the entry.
 *
 * @example
 * ```ts
 * import { decodeNpz, encodeNpz, tensor } from "@aprender/compute";
 * const bytes = await encodeNpz({ w: tensor([[1, 2]]), b: tensor([3]) });
 * const { w, b } = await decodeNpz(bytes);
 * console.log(w.shape, b.toArraySync()); // [1, 2] [3]
 * ```
 */
export function decodeNpz(
  bytes: Uint8Array,
  options: NpyReadOptions = {},
): Promise<Record<string, Tensor>> {
  return decodeNpzAs(bytes, options, "decodeNpz");
}

async function encodeNpzAs(
  tensors: Record<string, Tensor>,
  options: NpzWriteOptions,
  op: string,
): Promise<Uint8Array> {
  const files: ZipEntry[] = [];
  for (const [key, t] of Object.entries(tensors)) {
    if (key.length === 0) {
      throw new FormatError(`${op}: array names must not be empty.`);
    }
    if (t.dtype === "bf16") {
      throw new DTypeError(
        `${op}: array "${key}" has dtype bf16, which NumPy lacks. ` +
          `Hint: convert it first with t.astype("f32") (exact for bf16).`,
      );
    }
    files.push({ name: `${key}.npy`, data: npyFromData(t, await t.data(), op) });
  }
  return writeZip(files, { compress: options.compress === true });
}

/**
 * Encode named tensors as the bytes of a `.npz` archive that `np.load` reads (`name.npy` per
 * tensor; deflated with `{compress: true}`, like `np.savez_compressed`). bf16 throws a DTypeError:
 * convert with `astype("f32")` first.
 *
 * @example
 * ```ts
 * import { encodeNpz, ones } from "@aprender/compute";
 * const bytes = await encodeNpz({ x: ones([100]) }, { compress: true });
 * console.log(bytes.length < 400); // true
 * ```
 */
export function encodeNpz(
  tensors: Record<string, Tensor>,
  options: NpzWriteOptions = {},
): Promise<Uint8Array> {
  return encodeNpzAs(tensors, options, "encodeNpz");
}

/**
 * Load a `.npz` archive (a path, a `file:` URL, or its bytes) into named tensors. See
 * {@link decodeNpz}.
 *
 * @example
 * ```ts
 * import { loadNpz, saveNpz, tensor } from "@aprender/compute";
 * const path = await Deno.makeTempFile({ suffix: ".npz" });
 * await saveNpz(path, { a: tensor([1, 2, 3]) });
 * const { a } = await loadNpz(path);
 * console.log(a.toArraySync()); // [1, 2, 3]
 * ```
 */
export async function loadNpz(
  pathOrBytes: string | URL | Uint8Array,
  options: NpyReadOptions = {},
): Promise<Record<string, Tensor>> {
  const { bytes, name } = await readInput(pathOrBytes, "loadNpz");
  return decodeNpzAs(bytes, { ...options, name: options.name ?? name }, "loadNpz");
}

/**
 * Save named tensors as a `.npz` archive that `np.load` reads (`{compress: true}` deflates it,
 * like `np.savez_compressed`). Works for tensors on any device.
 *
 * @example
 * ```ts
 * import { arange, saveNpz } from "@aprender/compute";
 * const path = await Deno.makeTempFile({ suffix: ".npz" });
 * await saveNpz(path, { x: arange(10), y: arange(3) }, { compress: true });
 * console.log((await Deno.stat(path)).size > 0); // true
 * ```
 */
export async function saveNpz(
  path: string | URL,
  tensors: Record<string, Tensor>,
  options: NpzWriteOptions = {},
): Promise<void> {
  await writeOutput("saveNpz", path, await encodeNpzAs(tensors, options, "saveNpz"));
}
