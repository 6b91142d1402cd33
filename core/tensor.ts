/**
 * The Tensor: a strided view (shape, strides, offset, dtype) over device storage.
 *
 * @module
 */
import type { Storage } from "./backend/plugin.ts";
import { deviceProvider } from "./backend/registry.ts";
import {
  BLOCK_DTYPES,
  type BlockDType,
  byteLength,
  byteOffset,
  type DType,
  isBlockDType,
  type StorageDType,
  type TypedArray,
  typedArrayFor,
} from "./dtype.ts";
import { blockReadError, checkBlockView, gatherRuns, spanOf } from "./block.ts";
import { DeviceError, DisposedError, DTypeError, fmtShape, ShapeError } from "./errors.ts";
import {
  backward as runBackward,
  type BackwardOptions,
  type GradNode,
  isDifferentiable,
  needsGrad,
  noGrad,
  record,
} from "./autograd.ts";
import { asTensor, onesLike } from "./ops/creation.ts";
import { formatTensor } from "./format.ts";
import {
  allocTensorStorage,
  releaseStorage,
  retainStorage,
  track,
  unwatch,
  watch,
} from "./memory.ts";
import { contiguousStrides, isContiguous, type Shape, sizeOf } from "./shape.ts";
import * as view from "./ops/view.ts";
import { checkNestable, toNested } from "./nested.ts";
import { installTensorMethods, type TensorMethods } from "./tensor_ops.ts";

/** Nested JS arrays of numbers or booleans. */
export type NestedArray = number | boolean | bigint | NestedArray[];

/** Anything an op accepts where it wants a tensor: a Tensor, a JS number/boolean, nested arrays. */
export type TensorLike = Tensor | number | boolean | NestedArray | TypedArray;

/** An axis argument of a reduction: one axis, several, or all (undefined/null). */
export type Axis = number | readonly number[] | null | undefined;

/**
 * The op methods of {@link Tensor} (`add`, `sum`, `matmul`, ...): declared in core/tensor_ops.ts
 * as {@link TensorMethods} and merged into the class here; `installTensorMethods` below puts
 * their implementations on the prototype.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * console.log(tensor([1, 2, 3]).mul(2).sum().item()); // 12
 * ```
 */
export interface Tensor<D extends StorageDType = DType> extends TensorMethods {}

/**
 * An N-dimensional array: a strided view over storage owned by a device.
 *
 * Views (`reshape` of contiguous data, `transpose`, `permute`, `slice`, `expand`, `squeeze`,
 * `flip`, ...) share storage; `dispose()` (or `using`, or `tidy()`) releases this view, and the
 * storage is freed when its last view is gone.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * const a = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(a.shape, a.dtype); // [2, 3] "f32"
 * console.log(a.T.shape); // [3, 2]
 * console.log(a.sum(1).toArraySync()); // [6, 15]
 * ```
 */
export class Tensor<D extends StorageDType = DType> {
  /** Length of each axis. */
  readonly shape: readonly number[];
  /** Step in elements between neighbours along each axis (0 on broadcast axes, may be negative). */
  readonly strides: readonly number[];
  /** Index in elements of the first element within the storage. */
  readonly offset: number;
  /**
   * Element type, or a block-quantized storage type (`Tensor<BlockDType>`, made by
   * {@link fromBlocks}): shape, strides and offset still count elements, the storage holds whole
   * blocks, and only views that keep every block whole, `astype`, `to`, `clone` and the raw
   * {@link Tensor.bytesSync} readback accept one; element ops refuse it (a DTypeError).
   */
  readonly dtype: D;
  #storage: Storage;
  #disposed = false;
  #token = {};
  #requiresGrad = false;
  #gradFn: GradNode | null = null;
  #retainsGrad = false;
  /** Gradient accumulated by `backward()` (leaves that require gradients, and retained non-leaves). */
  grad: Tensor | null = null;

  /**
   * A view over `storage`. Most code creates tensors with `tensor()`, `zeros()` and ops instead.
   *
   * @param storage device memory (retained by this view)
   * @param shape axis lengths
   * @param strides element strides (default C-contiguous)
   * @param offset first element's index in the storage
   * @param dtype element type (or block type: the view must keep its blocks whole)
   */
  constructor(
    storage: Storage,
    shape: Shape,
    dtype: D,
    strides: readonly number[] = contiguousStrides(shape),
    offset = 0,
  ) {
    if (isBlockDType(dtype)) checkBlockView(dtype, shape, strides, offset);
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    retainStorage(storage);
    watch(this, storage, this.#token);
    track(this);
  }

  /**
   * A new contiguous zero-filled tensor on `device`.
   *
   * @example
   * ```ts
   * import { Tensor } from "@aprender/compute";
   * console.log(Tensor.empty([2, 2], "i32").dataSync()); // Int32Array [0, 0, 0, 0]
   * ```
   */
  static empty(
    shape: Shape,
    dtype?: DType,
    device?: string,
    zero?: boolean,
    op?: string,
  ): Tensor;
  /** A new contiguous block-type tensor (the last axis a multiple of the block size). */
  static empty<B extends BlockDType>(
    shape: Shape,
    dtype: B,
    device?: string,
    zero?: boolean,
    op?: string,
  ): Tensor<B>;
  /** A new contiguous tensor of any storage dtype. */
  static empty(
    shape: Shape,
    dtype: StorageDType,
    device?: string,
    zero?: boolean,
    op?: string,
  ): Tensor<StorageDType>;
  static empty(
    shape: Shape,
    dtype: StorageDType = "f32",
    device = "cpu",
    zero = true,
    op = "empty",
  ): Tensor<StorageDType> {
    const last = shape.length ? shape[shape.length - 1] : 1;
    if (isBlockDType(dtype)) byteLength(dtype, last, `${op}: the last axis`);
    const storage = allocTensorStorage(op, shape, dtype, device, zero);
    return new Tensor(storage, shape, dtype);
  }

  /** The storage this view reads (throws once disposed). */
  get storage(): Storage {
    if (this.#disposed) throw this.#disposedError("storage");
    return this.#storage;
  }
  /** Device the storage lives on. */
  get device(): string {
    return this.#storage.device;
  }
  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
  /** Whether `dispose()` ran. */
  get disposed(): boolean {
    return this.#disposed;
  }
  /** Whether the elements are laid out in C order from `offset` with no gaps. */
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** Release this view's reference to its storage (and its gradient). Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    unwatch(this.#token);
    releaseStorage(this.#storage);
    this.grad?.dispose();
    this.grad = null;
    // #gradFn stays: an op may dispose its intermediate views while the graph still runs
    // through them (the node keeps its own saved views alive).
  }

  // ---- autograd -----------------------------------------------------------------------------

  /**
   * Whether gradients flow to this tensor: set it on a float leaf to have `backward()` fill
   * `.grad`; outputs of ops on such tensors require gradients automatically.
   */
  get requiresGrad(): boolean {
    return this.#requiresGrad || this.#gradFn !== null;
  }
  set requiresGrad(value: boolean) {
    if (this.#gradFn) {
      throw new DTypeError(
        `requiresGrad: only leaf tensors can change it; this tensor is the output of ` +
          `"${this.#gradFn.op}". Hint: use .detach() to get a leaf.`,
      );
    }
    if (value && !isDifferentiable(this as Tensor)) {
      throw new DTypeError(
        `requiresGrad: only float tensors can require gradients, this one is ${this.dtype}. ` +
          `Hint: astype("f32") first.`,
      );
    }
    this.#requiresGrad = value;
  }
  /** Set `requiresGrad` (default true) and return this tensor, like PyTorch's `requires_grad_()`. */
  requireGrad(value = true): this {
    this.requiresGrad = value;
    return this;
  }
  /** The recorded op that produced this tensor, or null for a leaf. */
  get gradFn(): GradNode | null {
    return this.#gradFn;
  }
  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.#gradFn === null;
  }
  /** Internal: attach the node of the op that produced this tensor. */
  _setGradFn(node: GradNode): void {
    this.#gradFn = node;
  }
  /** Internal: whether `retainGrad()` was called. */
  get _retainsGrad(): boolean {
    return this.#retainsGrad;
  }
  /** Keep `.grad` for this non-leaf tensor during `backward()`. */
  retainGrad(): this {
    this.#retainsGrad = true;
    return this;
  }
  /** A view of the same data that is a leaf and does not require gradients. */
  detach(): Tensor<D> {
    return new Tensor(this.storage, this.shape, this.dtype, this.strides, this.offset);
  }
  /**
   * Backpropagate from this tensor. A scalar (size 1) needs no `grad`; otherwise pass the
   * gradient of some scalar with respect to this tensor (same shape).
   */
  backward(this: Tensor, grad?: TensorLike, options: BackwardOptions = {}): void {
    if (!this.requiresGrad) {
      throw new DTypeError(
        `backward: this tensor does not require gradients (no input of the ops that made it ` +
          `had requiresGrad set). Hint: set requiresGrad = true on the parameters first.`,
      );
    }
    let seed: Tensor;
    if (grad === undefined) {
      if (this.size !== 1) {
        throw new ShapeError(
          `backward: tensor of shape ${JSON.stringify(this.shape)} is not a scalar; pass a ` +
            `gradient of the same shape (e.g. onesLike(t)), or reduce it first (e.g. .sum()).`,
        );
      }
      seed = noGrad(() => onesLike(this));
    } else {
      seed = noGrad(() => asTensor(grad, this.dtype).astype(this.dtype));
      if (seed.shape.length !== this.ndim || seed.shape.some((d, i) => d !== this.shape[i])) {
        const got = seed.shape;
        seed.dispose();
        throw new ShapeError(
          `backward: gradient of shape ${JSON.stringify(got)} does not match the tensor's shape ` +
            `${JSON.stringify(this.shape)}.`,
        );
      }
    }
    try {
      runBackward(this, seed, options);
    } finally {
      seed.dispose();
    }
  }
  /** `using t = ...` disposes at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #disposedError(what: string): DisposedError {
    return new DisposedError(
      `${what}: tensor of shape ${JSON.stringify(this.shape)} was disposed. ` +
        `Hint: keep() it inside tidy(), or clone() it before disposing the original.`,
    );
  }

  /**
   * Another view over the same storage: any shape, strides (elements) and offset. Under autograd
   * it records a generic view node (the gradient is scattered back through the same storage
   * positions); the named view ops (reshape, permute, slice, ...) record cheaper rules of their
   * own.
   */
  view(shape: Shape, strides: readonly number[], offset: number): Tensor<D>;
  /** A view reinterpreting the storage as `dtype` (strides and offset in its elements). */
  view<E extends StorageDType>(
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: E,
  ): Tensor<E>;
  view(
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: StorageDType = this.dtype,
  ): Tensor<StorageDType> {
    const v = this._view(shape, strides, offset, dtype);
    if (dtype === this.dtype && needsGrad([this as Tensor])) {
      record("view", [this as Tensor], [v as Tensor]);
    }
    return v;
  }
  /**
   * Internal: a view that records nothing (its caller records the op). A view of a block type
   * that cuts inside a block is a DTypeError (checked here, once, for every view op).
   */
  _view(shape: Shape, strides: readonly number[], offset: number): Tensor<D>;
  /** Internal: a view that records nothing, reinterpreting the storage as `dtype`. */
  _view<E extends StorageDType>(
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: E,
  ): Tensor<E>;
  _view(
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: StorageDType = this.dtype,
  ): Tensor<StorageDType> {
    return new Tensor(this.storage, shape, dtype, strides, offset);
  }

  // ---- data out ----------------------------------------------------------------------------

  /**
   * The elements in C order as a new typed array (bf16 as raw bits in a Uint16Array, bool as
   * 0/1 in a Uint8Array, i64 as a BigInt64Array). Only for host-visible (CPU) tensors.
   */
  dataSync(this: Tensor): TypedArray {
    if (this.#disposed) throw this.#disposedError("dataSync");
    if (isBlockDType(this.dtype)) throw blockReadError("dataSync", this.dtype);
    const p = deviceProvider(this.device);
    if (!p.readSync) {
      throw new DeviceError(
        `dataSync: tensor lives on "${this.device}", which cannot be read synchronously. ` +
          `Hint: use await t.data().`,
      );
    }
    const src = this.isContiguous ? this : view.contiguous(this);
    try {
      const d = this.dtype;
      const bytes = p.readSync(src.storage, byteOffset(d, src.offset), byteLength(d, src.size));
      return typedArrayFor(this.dtype, bytes.buffer, 0, src.size);
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** The elements in C order as a new typed array, from any device (GPU: waits for readback). */
  async data(this: Tensor): Promise<TypedArray> {
    if (this.#disposed) throw this.#disposedError("data");
    if (isBlockDType(this.dtype)) throw blockReadError("data", this.dtype);
    const p = deviceProvider(this.device);
    const src = this.isContiguous ? this : view.contiguous(this);
    try {
      const d = this.dtype;
      const bytes = await p.read(src.storage, byteOffset(d, src.offset), byteLength(d, src.size));
      return typedArrayFor(this.dtype, bytes.buffer, bytes.byteOffset, src.size);
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** Nested JS arrays of numbers (booleans for bool; i64 as numbers, exact up to 2^53). */
  toArraySync(this: Tensor): NestedArray {
    checkNestable(this.shape, "toArraySync");
    return toNested(this.dataSync(), this.shape, this.dtype);
  }

  /** Nested JS arrays, from any device. */
  async toArray(this: Tensor): Promise<NestedArray> {
    checkNestable(this.shape, "toArray");
    return toNested(await this.data(), this.shape, this.dtype);
  }

  /** The single element of a size-1 tensor, as a number (boolean for bool). */
  item(this: Tensor): number | boolean {
    if (this.size !== 1) {
      throw new ShapeError(
        `item: tensor of shape ${JSON.stringify(this.shape)} has ${this.size} elements; item() ` +
          `needs exactly one. Hint: reduce it first (e.g. .sum()) or select an element.`,
      );
    }
    const v = toNested(this.dataSync(), [], this.dtype);
    return v as number | boolean;
  }

  /** Prints like NumPy: `tensor([[1, 2], [3, 4]], dtype=f32)`, summarized when large. */
  toString(): string {
    if (isBlockDType(this.dtype)) {
      const b = BLOCK_DTYPES[this.dtype];
      return `tensor(<${this.size / b.blockSize} ${this.dtype} blocks>, shape=${
        fmtShape(this.shape)
      }, dtype=${this.dtype})`;
    }
    return formatTensor(this as Tensor);
  }

  /**
   * The raw storage bytes of the elements in C order, as a new Uint8Array: little-endian
   * elements, or whole blocks for a block type (GGUF's layout). Host-visible (CPU) tensors only.
   *
   * @example
   * ```ts
   * import { fromBlocks } from "@aprender/compute";
   * const q = fromBlocks(new Uint8Array(2 * 34), "q8_0", [2, 32]);
   * console.log(q.slice(1).bytesSync().length); // 34: the second row's one block
   * ```
   */
  bytesSync(): Uint8Array {
    if (this.#disposed) throw this.#disposedError("bytesSync");
    const p = deviceProvider(this.device);
    if (!p.readSync) {
      throw new DeviceError(
        `bytesSync: tensor lives on "${this.device}", which cannot be read synchronously. ` +
          `Hint: use await t.bytes().`,
      );
    }
    const src = this.#rawSource();
    try {
      const [runs, start, end] = spanOf(src);
      return gatherRuns(runs, start, p.readSync(src.storage, start, end - start));
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** The raw storage bytes (see {@link Tensor.bytesSync}), from any device (one readback). */
  async bytes(): Promise<Uint8Array> {
    if (this.#disposed) throw this.#disposedError("bytes");
    const p = deviceProvider(this.device);
    const src = this.#rawSource();
    try {
      const [runs, start, end] = spanOf(src);
      return gatherRuns(runs, start, await p.read(src.storage, start, end - start));
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** This view, or a contiguous copy of a strided element view (block views read by rows). */
  #rawSource(): Tensor<StorageDType> {
    if (isBlockDType(this.dtype) || this.isContiguous) return this;
    return view.contiguous(this as Tensor);
  }

  // ---- views and copies -------------------------------------------------------------------

  /** See {@link view.reshape}. */
  reshape(shape: readonly number[]): Tensor<D> {
    return view.reshape(this, shape);
  }
  /** See {@link view.flatten}. */
  flatten(startAxis = 0, endAxis = -1): Tensor<D> {
    return view.flatten(this, startAxis, endAxis);
  }
  /** See {@link view.transpose}. */
  transpose(axes?: readonly number[]): Tensor<D> {
    return view.transpose(this, axes);
  }
  /** See {@link view.permute}. */
  permute(axes: readonly number[]): Tensor<D> {
    return view.permute(this, axes);
  }
  /** See {@link view.swapaxes}. */
  swapaxes(a: number, b: number): Tensor<D> {
    return view.swapaxes(this, a, b);
  }
  /** All axes reversed (a view), like NumPy's `.T`. */
  get T(): Tensor<D> {
    return view.transpose(this);
  }
  /** See {@link view.squeeze}. */
  squeeze(axis?: number | readonly number[]): Tensor<D> {
    return view.squeeze(this, axis);
  }
  /** See {@link view.unsqueeze}. */
  unsqueeze(axis: number): Tensor<D> {
    return view.unsqueeze(this, axis);
  }
  /** See {@link view.expand}. */
  expand(shape: readonly number[]): Tensor<D> {
    return view.expand(this, shape);
  }
  /** See {@link view.broadcastTo}. */
  broadcastTo(shape: readonly number[]): Tensor<D> {
    return view.broadcastTo(this, shape);
  }
  /** See {@link view.slice}. */
  slice(...specs: view.SliceArg[]): Tensor<D> {
    return view.slice(this, ...specs);
  }
  /** See {@link view.select}. */
  select(axis: number, index: number): Tensor<D> {
    return view.select(this, axis, index);
  }
  /** See {@link view.flip}. */
  flip(axis?: number | readonly number[]): Tensor<D> {
    return view.flip(this, axis);
  }
  /** See {@link view.contiguous}. */
  contiguous(): Tensor<D> {
    return view.contiguous(this);
  }
  /** See {@link view.clone}. */
  clone(): Tensor<D> {
    return view.clone(this);
  }
  /** See {@link view.astype}. */
  astype(dtype: DType): Tensor;
  /** Quantize to a block type (a registry kernel named by the type's table row). */
  astype<B extends BlockDType>(dtype: B): Tensor<B>;
  astype(dtype: StorageDType): Tensor<StorageDType> {
    return view.astype(this, dtype);
  }
  /** See {@link view.to}. */
  to(device: string): Promise<Tensor<D>> {
    return view.to(this, device);
  }
}

installTensorMethods(Tensor);
