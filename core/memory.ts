/**
 * Tensor lifetimes: reference-counted storage, `tidy()` scopes, a finalizer safety net, and the
 * `memory()` report.
 *
 * @module
 */
import type { Storage } from "./backend/plugin.ts";
import { deviceProvider } from "./backend/registry.ts";
import {
  byteLength,
  type DType,
  type StorageDType,
  type TypedArray,
  typedArrayFor,
} from "./dtype.ts";
import { AllocationError, ArgumentError, fmtShape } from "./errors.ts";

/** Something that owns resources and can be disposed. */
export interface Releasable {
  /** Release the resources. */
  dispose(): void;
  /** Whether `dispose()` ran. */
  readonly disposed: boolean;
}

interface DeviceStats {
  bytes: number;
  storages: number;
}

const stats = new Map<string, DeviceStats>();
let liveTensors = 0;

function statsFor(device: string): DeviceStats {
  let s = stats.get(device);
  if (!s) stats.set(device, s = { bytes: 0, storages: 0 });
  return s;
}

/** Allocate storage on a device (zero-filled unless `zero` is false) and count it. */
export function allocStorage(device: string, byteLength: number, zero = true): Storage {
  const s = deviceProvider(device).alloc(byteLength, zero);
  const st = statsFor(device);
  st.bytes += s.byteLength;
  st.storages++;
  return s;
}

const GiB = 2 ** 30;
function fmtBytes(n: number): string {
  return n >= GiB ? `${+(n / GiB).toFixed(2)} GiB` : `${+(n / 2 ** 20).toFixed(2)} MiB`;
}

let machineBytes: number | null | undefined;
/** This machine's physical memory, or null where the runtime does not say (no `--allow-sys`). */
function machineMemory(): number | null {
  if (machineBytes === undefined) {
    try {
      const total = Deno.systemMemoryInfo().total;
      machineBytes = Number.isFinite(total) && total > 0 ? total : null;
    } catch {
      machineBytes = null;
    }
  }
  return machineBytes;
}

function allocationError(
  op: string,
  shape: readonly number[],
  dtype: StorageDType,
  bytes: number,
  why: string,
  cause?: unknown,
): AllocationError {
  const asked = Number.isSafeInteger(bytes)
    ? `${bytes} bytes (${fmtBytes(bytes)})`
    : `${bytes} bytes`;
  return new AllocationError(
    `${op}: cannot allocate a ${dtype} tensor of shape ${fmtShape(shape)}: it needs ${asked}, ` +
      `and ${why}. Hint: use a smaller shape, process the data in chunks, or free tensors no ` +
      `longer needed.`,
    { cause },
  );
}

/**
 * The bytes of `shape` × `dtype`, or an {@link AllocationError} when no allocation of that size
 * can succeed: an element count or byte size beyond 2^53, or more than this machine's physical
 * memory (where the runtime reports it). The one check every allocation path runs first.
 */
export function checkAllocation(
  op: string,
  shape: readonly number[],
  dtype: StorageDType,
): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) {
    throw allocationError(
      op,
      shape,
      dtype,
      n,
      `${n} elements exceed 2^53, the most any array holds`,
    );
  }
  const bytes = byteLength(dtype, n, op);
  if (!Number.isSafeInteger(bytes)) {
    throw allocationError(op, shape, dtype, bytes, "that exceeds 2^53 bytes");
  }
  const machine = machineMemory();
  if (machine !== null && bytes > machine) {
    throw allocationError(
      op,
      shape,
      dtype,
      bytes,
      `this machine has ${machine} bytes (${fmtBytes(machine)}) of memory in all`,
    );
  }
  return bytes;
}

/**
 * Storage for a new tensor of `shape` × `dtype` on `device`, counted by `memory()`: the central
 * allocation path. Any failure (size checks, the device refusing, the runtime running out) is an
 * {@link AllocationError} naming `op`, the shape, the bytes and the limit.
 */
export function allocTensorStorage(
  op: string,
  shape: readonly number[],
  dtype: StorageDType,
  device: string,
  zero = true,
): Storage {
  const bytes = checkAllocation(op, shape, dtype);
  try {
    return allocStorage(device, bytes, zero);
  } catch (e) {
    if (e instanceof RangeError || (e instanceof Error && e.name === "DeviceError")) {
      throw allocationError(op, shape, dtype, bytes, `device ${device} refused: ${e.message}`, e);
    }
    throw e;
  }
}

/**
 * A host typed array of `n` elements of `dtype` for an op's scratch work (values computed in JS
 * before they are written to a device), through the same checks as {@link allocTensorStorage}.
 */
export function hostArray(op: string, shape: readonly number[], dtype: DType): TypedArray {
  const bytes = checkAllocation(op, shape, dtype);
  try {
    const n = shape.reduce((a, b) => a * b, 1);
    return typedArrayFor(dtype, new ArrayBuffer(bytes), 0, n);
  } catch (e) {
    if (e instanceof RangeError) {
      throw allocationError(op, shape, dtype, bytes, `the runtime refused: ${e.message}`, e);
    }
    throw e;
  }
}

/** Take a reference to a storage (a new tensor view over it). */
export function retainStorage(s: Storage): void {
  s.refs++;
  liveTensors++;
}

/** Drop a reference; frees the storage when none is left. */
export function releaseStorage(s: Storage): void {
  liveTensors--;
  if (--s.refs > 0 || s.freed) return;
  s.freed = true;
  deviceProvider(s.device).free(s);
  const st = statsFor(s.device);
  st.bytes -= s.byteLength;
  st.storages--;
}

/** Live memory of one device. */
export interface DeviceMemory {
  /** Bytes of live storage. */
  bytes: number;
  /** Live storages (several views may share one). */
  storages: number;
}

/** What `memory()` reports. */
export interface MemoryInfo {
  /** Live tensors (views included). */
  tensors: number;
  /** Per device. */
  devices: Record<string, DeviceMemory>;
}

/**
 * Live tensors and bytes per device.
 *
 * @example
 * ```ts
 * import { memory, ones } from "@aprender/compute";
 * const before = memory().devices.cpu?.bytes ?? 0;
 * const t = ones([256]);
 * console.log((memory().devices.cpu?.bytes ?? 0) - before); // 1024
 * t.dispose();
 * ```
 */
export function memory(): MemoryInfo {
  const devices: Record<string, DeviceMemory> = {};
  for (const [k, v] of stats) devices[k] = { bytes: v.bytes, storages: v.storages };
  return { tensors: liveTensors, devices };
}

// ---- finalizer safety net ----------------------------------------------------------------

const finalizer = new FinalizationRegistry<Storage>((s) => releaseStorage(s));

/** Register `owner` so that its storage reference is dropped if it is collected undisposed. */
export function watch(owner: object, s: Storage, token: object): void {
  finalizer.register(owner, s, token);
}

/** Stop watching (the owner was disposed explicitly). */
export function unwatch(token: object): void {
  finalizer.unregister(token);
}

// ---- tidy scopes ---------------------------------------------------------------------------

const scopes: Set<Releasable>[] = [];

/** Record a new tensor in the innermost `tidy()` scope, if any. */
export function track(t: Releasable): void {
  scopes.at(-1)?.add(t);
}

/**
 * Keep a tensor alive past the end of the enclosing `tidy()` scope.
 *
 * @example
 * ```ts
 * import { keep, ones, tidy } from "@aprender/compute";
 * let kept;
 * tidy(() => {
 *   kept = keep(ones([2]));
 * });
 * console.log(kept!.disposed); // false
 * ```
 */
export function keep<T extends Releasable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

function collect(value: unknown, out: Set<Releasable>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 8) return;
  if (typeof (value as Releasable).dispose === "function" && "disposed" in (value as object)) {
    out.add(value as Releasable);
    return;
  }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype || value instanceof Map) {
    const vals = value instanceof Map ? value.values() : Object.values(value);
    for (const v of vals) collect(v, out, depth + 1);
  }
}

/**
 * Run `fn` and dispose every tensor created inside it, except those it returns (directly, or in
 * arrays/plain objects/maps) and those passed to `keep()`. Returned tensors move to the enclosing
 * scope. An async `fn` is refused with an ArgumentError (the scope would close before its
 * tensors exist) and nothing of it is disposed: await outside `tidy()` and tidy the synchronous
 * parts, or manage tensors across awaits with `using` / `dispose()`.
 *
 * @example
 * ```ts
 * import { ones, tidy } from "@aprender/compute";
 * const y = tidy(() => ones([3]).mul(2).add(1)); // the intermediates are freed
 * console.log(y.dataSync()); // Float32Array [3, 3, 3]
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Releasable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (isThenable(result)) {
    // The async function is still running and owns what it created: dispose nothing. Its
    // eventual rejection is observed here (the caller never gets the promise), so the process
    // does not die on an unhandled rejection.
    Promise.resolve(result).catch(() => {});
    throw new ArgumentError(
      "tidy: fn returned a Promise; a tidy() scope is synchronous and would close before the " +
        "async function's tensors exist, so nothing was disposed. Hint: await outside and tidy " +
        "the synchronous parts (`const x = await load(); const y = tidy(() => f(x));`), or " +
        "manage tensors across awaits with `using t = ...` / t.dispose().",
    );
  }
  const kept = new Set<Releasable>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const parent = scopes.at(-1);
  if (parent) { for (const t of kept) if (scope.has(t)) parent.add(t); }
  return result;
}
