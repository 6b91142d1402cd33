/**
 * The plugin interface every backend implements. A backend provides kernels by op name for one
 * device; the registry probes it, and routes each op to the best backend that has a kernel for it.
 *
 * @module
 */
import type { DType, StorageDType } from "../dtype.ts";
import type { AttrsOf, BlockOp, OpName } from "../ops/contracts/mod.ts";

/** Memory owned by a device, shared by every tensor view over it. */
export interface Storage {
  /** The device the bytes live on ("cpu", "gpu", ...). */
  readonly device: string;
  /** Size in bytes. */
  readonly byteLength: number;
  /** Number of live tensors using this storage; freed when it drops to 0. */
  refs: number;
  /** Set once freed. */
  freed: boolean;
}

/**
 * Allocation and transfer for one device. The CPU provider is built in (`backends/host.ts`): its
 * storage is plain host memory that every CPU plugin (scalar, WASM, OpenBLAS) reads and writes in
 * place. A GPU plugin brings its own provider.
 */
export interface DeviceProvider {
  /** Device name, e.g. "cpu" or "gpu". */
  readonly name: string;
  /**
   * Allocate `byteLength` bytes, zero-filled unless `zero` is false (the caller then overwrites
   * every byte before anyone reads them).
   */
  alloc(byteLength: number, zero?: boolean): Storage;
  /** Release the storage's memory. Called once, when its last tensor is disposed. */
  free(storage: Storage): void;
  /** Copy `bytes` into the storage at `byteOffset`. */
  write(storage: Storage, bytes: Uint8Array, byteOffset?: number): void;
  /** Read `byteLength` bytes from `byteOffset` (asynchronous: a GPU readback). */
  read(storage: Storage, byteOffset?: number, byteLength?: number): Promise<Uint8Array>;
  /** Synchronous read, only where the memory is host-visible. */
  readSync?(storage: Storage, byteOffset?: number, byteLength?: number): Uint8Array;
}

/** What a backend found it can do on this machine. */
export interface Capabilities {
  /** False when the plugin cannot run here; `reason` says why. */
  available: boolean;
  /** Why it is unavailable (missing library, no permission, no adapter, ...). */
  reason?: string;
  /** Feature names (e.g. "simd128", "relaxed-simd", "shader-f16"). */
  features?: string[];
  /** The dtypes its kernels handle. */
  dtypes?: DType[];
  /** Threads it will use. */
  threads?: number;
  /** Numeric limits (e.g. max buffer size). */
  limits?: Record<string, number>;
  /**
   * The kernels available here, by op name, when the plugin builds them in its probe (a GPU
   * plugin's kernels need its device); otherwise the backend's static `kernels` are used.
   */
  kernels?: KernelTable;
}

/**
 * An operand as a kernel sees it: a strided view of device storage. `Tensor` satisfies it; the
 * plugin interface depends on this type only, so plugins never import the `Tensor` class.
 */
export interface TensorView<D extends StorageDType = DType> {
  /** The memory the elements live in (a plugin casts it to its device's storage class). */
  readonly storage: Storage;
  /** Extent of each axis. */
  readonly shape: readonly number[];
  /** Element strides of each axis (0 on broadcast axes, negative on flipped ones). */
  readonly strides: readonly number[];
  /** Index of the first element in the storage, in elements. */
  readonly offset: number;
  /**
   * Element type; a kernel the dtype table names for block-quantized operands (dequantize,
   * quantize) sees `TensorView<StorageDType>` instead (offset and sizes still count elements).
   */
  readonly dtype: D;
  /** Device of the storage. */
  readonly device: string;
  /** Number of axes. */
  readonly ndim: number;
  /** Number of elements. */
  readonly size: number;
  /** Whether the elements are laid out in C order from `offset` with no gaps. */
  readonly isContiguous: boolean;
}

/** A view a kernel allocated (`emptyView` in core/backend/alloc.ts): it disposes it, or returns it. */
export interface OwnedView extends TensorView {
  /** Drop this view's reference to its storage. */
  dispose(): void;
}

/** The arguments a kernel receives: inputs, preallocated outputs, and the op's attributes. */
export interface KernelCall<A = Record<string, unknown>> {
  /** The op's name. */
  readonly op: string;
  /** Input tensors: any strides, offsets (views), all on this backend's device. */
  readonly inputs: readonly TensorView[];
  /**
   * Output tensors allocated by the op (contiguous, unless the op writes into a view such as
   * `copy`'s destination), zero-filled, except where the op declared the output `overwritten`
   * (elementwise ops): the kernel must then write every element. Empty for ops whose output shape depends on the data; the kernel then
   * returns its outputs.
   */
  readonly outputs: readonly TensorView[];
  /** The op's attributes (axes, flags, ...). */
  readonly attrs: A;
}

/**
 * Runs a kernel call: fills `call.outputs`, or returns new outputs for data-dependent shapes. A
 * runner a plan returned also runs later calls whose operands have the planned call's shapes,
 * strides, offsets, dtypes and device (the storages and attrs' values may differ), so a caller
 * may cache it per call site (the LLM decode loop does, per token).
 */
// deno-lint-ignore no-explicit-any
export type Runner<A = any> = (call: KernelCall<A>) => void | OwnedView[];

/** A kernel that takes every call on its device: it is its own runner. */
// deno-lint-ignore no-explicit-any
export type KernelFn = Runner<any>;

/**
 * A kernel that plans each call: `plan` returns a prepared runner, or null to decline the call
 * (dtype, size, strides, ...), which then goes to the next plugin by priority. What the plan
 * worked out (BLAS layouts, merged axes, a compiled pipeline) lives in the runner's closure,
 * never in module globals.
 */
// deno-lint-ignore no-explicit-any
export interface Kernel<A = any> {
  /** The runner for `call`, or null to decline it. */
  plan(call: KernelCall<A>): Runner<A> | null;
}

/**
 * A plugin's kernels by declared op name (core/ops/contracts): plain kernels, planning
 * {@link Kernel}s, or {@link KernelEntry}s (a predicate and a runner: the registry turns them into
 * kernels once, at registration). Same as {@link OpKernelTable}.
 */
export type KernelTable = OpKernelTable;

/**
 * A plugin-side convenience: a kernel whose plan is a predicate and a runner needing no plan
 * state. {@link planned} turns a table of them into {@link Kernel}s.
 */
// deno-lint-ignore no-explicit-any
export interface KernelEntry<A = any> {
  /** Runs the kernel. */
  run: Runner<A>;
  /** Return false to decline the call (dtype, size, strides, ...). */
  supports?(call: KernelCall<A>): boolean;
}

/** What a kernel table may hold for op `N`: a runner, a planning kernel or an entry, typed by its declared attributes. */
export type KernelOf<N extends OpName> =
  | Runner<AttrsOf<N>>
  | Kernel<AttrsOf<N>>
  | KernelEntry<AttrsOf<N>>;

/**
 * A plugin's kernel table typed against the op declarations (core/ops/contracts): any subset of
 * the declared ops, each with the declared attribute type. A misspelt name, or a kernel whose
 * call takes other attributes, is a compile error.
 *
 * @example
 * ```ts
 * import type { OpKernelTable } from "@aprender/compute/internal";
 * const table: OpKernelTable = { neg: (_call) => {} };
 * console.log(Object.keys(table)); // ["neg"]
 * ```
 */
export type OpKernelTable = { [N in OpName]?: KernelOf<N> };

/**
 * The scalar backend's table: a runner for EVERY declared op (the block conversions excepted,
 * which the block codecs provide), so a declared op without a reference kernel fails to compile.
 */
export type ScalarKernelTable = { readonly [N in Exclude<OpName, BlockOp>]: Runner<AttrsOf<N>> };

/**
 * A kernel table from plain kernels, {@link Kernel}s and {@link KernelEntry}s (each entry
 * becomes `plan(call) = supports(call) ? run : null`).
 *
 * @example
 * ```ts
 * import { planned } from "@aprender/compute/internal";
 * const table = planned({
 *   neg: { supports: (call) => call.inputs[0].dtype === "f32", run: (_call) => {} },
 * });
 * console.log(typeof table.neg); // "object"
 * ```
 */
export function planned(table: KernelTable): Record<string, KernelFn | Kernel> {
  const out: Record<string, KernelFn | Kernel> = {};
  for (const [op, k] of Object.entries(table) as [string, KernelFn | Kernel | KernelEntry][]) {
    if (typeof k === "function" || "plan" in k) out[op] = k;
    else if (!k.supports) out[op] = k.run;
    else {
      const { supports, run } = k;
      out[op] = { plan: (call) => (supports(call) ? run : null) };
    }
  }
  return out;
}

/**
 * A backend plugin.
 *
 * @example
 * ```ts
 * import { type Backend, registerBackend } from "@aprender/compute";
 * const mine: Backend = {
 *   name: "mine",
 *   device: "cpu",
 *   probe: () => ({ available: true }),
 *   kernels: {}, // any subset of op names (or in the probe's result); the registry falls back per op
 * };
 * registerBackend(mine, { priority: 10 });
 * ```
 */
export interface Backend {
  /** Unique name ("scalar", "wasm", "openblas", "webgpu", or a user plugin's). */
  readonly name: string;
  /** The device its kernels run on; its tensors' storage comes from that device's provider. */
  readonly device: string;
  /** Find out what works here. Failing or throwing makes the plugin absent, never an error. */
  probe(): Capabilities | Promise<Capabilities>;
  /**
   * Kernels by op name known before the probe (`{}` for a plugin whose kernels need its device:
   * the probe's `kernels`, if any, replace these).
   */
  readonly kernels: KernelTable;
  /** The device provider, for a backend that brings a new device. */
  readonly provider?: DeviceProvider;
}
