/**
 * The Tensor: a strided view (shape, strides, offset, dtype) over device storage.
 *
 * @module
 */
import type { Storage } from "./backend/plugin.ts";
import { deviceProvider } from "./backend/registry.ts";
import { type DType, DTYPES, type TypedArray, typedArrayFor } from "./dtype.ts";
import { DeviceError, DisposedError, DTypeError, ShapeError } from "./errors.ts";
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
import { allocStorage, releaseStorage, retainStorage, track, unwatch, watch } from "./memory.ts";
import { contiguousStrides, isContiguous, type Shape, sizeOf } from "./shape.ts";
import * as ew from "./ops/elementwise.ts";
import * as red from "./ops/reduce.ts";
import * as srt from "./ops/sort.ts";
import * as view from "./ops/view.ts";
import * as idx from "./ops/indexing.ts";
import * as la from "./ops/linalg.ts";
import * as join from "./ops/join.ts";
import { toNested } from "./nested.ts";

/** Nested JS arrays of numbers or booleans. */
export type NestedArray = number | boolean | bigint | NestedArray[];

/** Anything an op accepts where it wants a tensor: a Tensor, a JS number/boolean, nested arrays. */
export type TensorLike = Tensor | number | boolean | NestedArray | TypedArray;

/** An axis argument of a reduction: one axis, several, or all (undefined/null). */
export type Axis = number | readonly number[] | null | undefined;

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
export class Tensor {
  /** Length of each axis. */
  readonly shape: readonly number[];
  /** Step in elements between neighbours along each axis (0 on broadcast axes, may be negative). */
  readonly strides: readonly number[];
  /** Index in elements of the first element within the storage. */
  readonly offset: number;
  /** Element type. */
  readonly dtype: DType;
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
   * @param dtype element type
   */
  constructor(
    storage: Storage,
    shape: Shape,
    dtype: DType,
    strides: readonly number[] = contiguousStrides(shape),
    offset = 0,
  ) {
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
  static empty(shape: Shape, dtype: DType = "f32", device = "cpu", zero = true): Tensor {
    const storage = allocStorage(device, sizeOf(shape) * DTYPES[dtype].bytes, zero);
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
    if (value && !isDifferentiable(this)) {
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
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.dtype, this.strides, this.offset);
  }
  /**
   * Backpropagate from this tensor. A scalar (size 1) needs no `grad`; otherwise pass the
   * gradient of some scalar with respect to this tensor (same shape).
   */
  backward(grad?: TensorLike, options: BackwardOptions = {}): void {
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
  view(
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: DType = this.dtype,
  ): Tensor {
    const v = this._view(shape, strides, offset, dtype);
    if (dtype === this.dtype && needsGrad([this])) record("view", [this], [v]);
    return v;
  }
  /** Internal: a view that records nothing (its caller records the op). */
  _view(
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: DType = this.dtype,
  ): Tensor {
    return new Tensor(this.storage, shape, dtype, strides, offset);
  }

  // ---- data out ----------------------------------------------------------------------------

  /**
   * The elements in C order as a new typed array (bf16 as raw bits in a Uint16Array, bool as
   * 0/1 in a Uint8Array, i64 as a BigInt64Array). Only for host-visible (CPU) tensors.
   */
  dataSync(): TypedArray {
    if (this.#disposed) throw this.#disposedError("dataSync");
    const p = deviceProvider(this.device);
    if (!p.readSync) {
      throw new DeviceError(
        `dataSync: tensor lives on "${this.device}", which cannot be read synchronously. ` +
          `Hint: use await t.data().`,
      );
    }
    const src = this.isContiguous ? this : view.contiguous(this);
    try {
      const b = DTYPES[this.dtype].bytes;
      const bytes = p.readSync(src.storage, src.offset * b, src.size * b);
      return typedArrayFor(this.dtype, bytes.buffer, 0, src.size);
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** The elements in C order as a new typed array, from any device (GPU: waits for readback). */
  async data(): Promise<TypedArray> {
    if (this.#disposed) throw this.#disposedError("data");
    const p = deviceProvider(this.device);
    const src = this.isContiguous ? this : view.contiguous(this);
    try {
      const b = DTYPES[this.dtype].bytes;
      const bytes = await p.read(src.storage, src.offset * b, src.size * b);
      return typedArrayFor(this.dtype, bytes.buffer, bytes.byteOffset, src.size);
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** Nested JS arrays of numbers (booleans for bool; i64 as numbers, exact up to 2^53). */
  toArraySync(): NestedArray {
    return toNested(this.dataSync(), this.shape, this.dtype);
  }

  /** Nested JS arrays, from any device. */
  async toArray(): Promise<NestedArray> {
    return toNested(await this.data(), this.shape, this.dtype);
  }

  /** The single element of a size-1 tensor, as a number (boolean for bool). */
  item(): number | boolean {
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
    return formatTensor(this);
  }

  // ---- views and copies -------------------------------------------------------------------

  /** See {@link view.reshape}. */
  reshape(shape: readonly number[]): Tensor {
    return view.reshape(this, shape);
  }
  /** See {@link view.flatten}. */
  flatten(startAxis = 0, endAxis = -1): Tensor {
    return view.flatten(this, startAxis, endAxis);
  }
  /** See {@link view.transpose}. */
  transpose(axes?: readonly number[]): Tensor {
    return view.transpose(this, axes);
  }
  /** See {@link view.permute}. */
  permute(axes: readonly number[]): Tensor {
    return view.permute(this, axes);
  }
  /** See {@link view.swapaxes}. */
  swapaxes(a: number, b: number): Tensor {
    return view.swapaxes(this, a, b);
  }
  /** All axes reversed (a view), like NumPy's `.T`. */
  get T(): Tensor {
    return view.transpose(this);
  }
  /** See {@link view.squeeze}. */
  squeeze(axis?: number | readonly number[]): Tensor {
    return view.squeeze(this, axis);
  }
  /** See {@link view.unsqueeze}. */
  unsqueeze(axis: number): Tensor {
    return view.unsqueeze(this, axis);
  }
  /** See {@link view.expand}. */
  expand(shape: readonly number[]): Tensor {
    return view.expand(this, shape);
  }
  /** See {@link view.broadcastTo}. */
  broadcastTo(shape: readonly number[]): Tensor {
    return view.broadcastTo(this, shape);
  }
  /** See {@link view.slice}. */
  slice(...specs: view.SliceArg[]): Tensor {
    return view.slice(this, ...specs);
  }
  /** See {@link view.select}. */
  select(axis: number, index: number): Tensor {
    return view.select(this, axis, index);
  }
  /** See {@link view.flip}. */
  flip(axis?: number | readonly number[]): Tensor {
    return view.flip(this, axis);
  }
  /** See {@link view.contiguous}. */
  contiguous(): Tensor {
    return view.contiguous(this);
  }
  /** See {@link view.clone}. */
  clone(): Tensor {
    return view.clone(this);
  }
  /** See {@link view.astype}. */
  astype(dtype: DType): Tensor {
    return view.astype(this, dtype);
  }
  /** See {@link view.to}. */
  to(device: string): Promise<Tensor> {
    return view.to(this, device);
  }

  // ---- elementwise ------------------------------------------------------------------------

  /** See {@link ew.add}. */
  add(other: TensorLike): Tensor {
    return ew.add(this, other);
  }
  /** See {@link ew.sub}. */
  sub(other: TensorLike): Tensor {
    return ew.sub(this, other);
  }
  /** See {@link ew.mul}. */
  mul(other: TensorLike): Tensor {
    return ew.mul(this, other);
  }
  /** See {@link ew.div}. */
  div(other: TensorLike): Tensor {
    return ew.div(this, other);
  }
  /** See {@link ew.floorDiv}. */
  floorDiv(other: TensorLike): Tensor {
    return ew.floorDiv(this, other);
  }
  /** See {@link ew.mod}. */
  mod(other: TensorLike): Tensor {
    return ew.mod(this, other);
  }
  /** See {@link ew.pow}. */
  pow(other: TensorLike): Tensor {
    return ew.pow(this, other);
  }
  /** See {@link ew.minimum}. */
  minimum(other: TensorLike): Tensor {
    return ew.minimum(this, other);
  }
  /** See {@link ew.maximum}. */
  maximum(other: TensorLike): Tensor {
    return ew.maximum(this, other);
  }
  /** See {@link ew.neg}. */
  neg(): Tensor {
    return ew.neg(this);
  }
  /** See {@link ew.abs}. */
  abs(): Tensor {
    return ew.abs(this);
  }
  /** See {@link ew.exp}. */
  exp(): Tensor {
    return ew.exp(this);
  }
  /** See {@link ew.log}. */
  log(): Tensor {
    return ew.log(this);
  }
  /** See {@link ew.sqrt}. */
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  /** See {@link ew.square}. */
  square(): Tensor {
    return ew.square(this);
  }
  /** See {@link ew.tanh}. */
  tanh(): Tensor {
    return ew.tanh(this);
  }
  /** See {@link ew.sigmoid}. */
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  /** See {@link ew.relu}. */
  relu(): Tensor {
    return ew.relu(this);
  }
  /** See {@link ew.sign}. */
  sign(): Tensor {
    return ew.sign(this);
  }
  /** See {@link ew.expm1}. */
  expm1(): Tensor {
    return ew.expm1(this);
  }
  /** See {@link ew.log1p}. */
  log1p(): Tensor {
    return ew.log1p(this);
  }
  /** See {@link ew.log2}. */
  log2(): Tensor {
    return ew.log2(this);
  }
  /** See {@link ew.rsqrt}. */
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  /** See {@link ew.sin}. */
  sin(): Tensor {
    return ew.sin(this);
  }
  /** See {@link ew.cos}. */
  cos(): Tensor {
    return ew.cos(this);
  }
  /** See {@link ew.erf}. */
  erf(): Tensor {
    return ew.erf(this);
  }
  /** See {@link ew.gelu}. */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    return ew.gelu(this, approximate);
  }
  /** See {@link ew.silu}. */
  silu(): Tensor {
    return ew.silu(this);
  }
  /** See {@link ew.softplus}. */
  softplus(beta = 1, threshold = 20): Tensor {
    return ew.softplus(this, beta, threshold);
  }
  /** See {@link ew.leakyRelu}. */
  leakyRelu(negativeSlope = 0.01): Tensor {
    return ew.leakyRelu(this, negativeSlope);
  }
  /** See {@link ew.round}. */
  round(): Tensor {
    return ew.round(this);
  }
  /** See {@link ew.floor}. */
  floor(): Tensor {
    return ew.floor(this);
  }
  /** See {@link ew.ceil}. */
  ceil(): Tensor {
    return ew.ceil(this);
  }
  /** See {@link ew.isnan}. */
  isnan(): Tensor {
    return ew.isnan(this);
  }
  /** See {@link ew.logicalNot}. */
  logicalNot(): Tensor {
    return ew.logicalNot(this);
  }
  /** See {@link ew.clip}. */
  clip(min: number | null, max: number | null): Tensor {
    return ew.clip(this, min, max);
  }
  /** See {@link ew.eq}. */
  eq(other: TensorLike): Tensor {
    return ew.eq(this, other);
  }
  /** See {@link ew.ne}. */
  ne(other: TensorLike): Tensor {
    return ew.ne(this, other);
  }
  /** See {@link ew.lt}. */
  lt(other: TensorLike): Tensor {
    return ew.lt(this, other);
  }
  /** See {@link ew.le}. */
  le(other: TensorLike): Tensor {
    return ew.le(this, other);
  }
  /** See {@link ew.gt}. */
  gt(other: TensorLike): Tensor {
    return ew.gt(this, other);
  }
  /** See {@link ew.ge}. */
  ge(other: TensorLike): Tensor {
    return ew.ge(this, other);
  }

  // ---- reductions -------------------------------------------------------------------------

  /** See {@link red.sum}. */
  sum(axis?: Axis, keepdims = false): Tensor {
    return red.sum(this, axis, keepdims);
  }
  /** See {@link red.mean}. */
  mean(axis?: Axis, keepdims = false): Tensor {
    return red.mean(this, axis, keepdims);
  }
  /** Variance; see {@link red.variance}. */
  var(axis?: Axis, options: red.VarOptions = {}): Tensor {
    return red.variance(this, axis, options);
  }
  /** See {@link red.std}. */
  std(axis?: Axis, options: red.VarOptions = {}): Tensor {
    return red.std(this, axis, options);
  }
  /** See {@link red.min}. */
  min(axis?: Axis, keepdims = false): Tensor {
    return red.min(this, axis, keepdims);
  }
  /** See {@link red.max}. */
  max(axis?: Axis, keepdims = false): Tensor {
    return red.max(this, axis, keepdims);
  }
  /** See {@link red.prod}. */
  prod(axis?: Axis, keepdims = false): Tensor {
    return red.prod(this, axis, keepdims);
  }
  /** See {@link red.argmin}. */
  argmin(axis?: number, keepdims = false): Tensor {
    return red.argmin(this, axis, keepdims);
  }
  /** See {@link red.argmax}. */
  argmax(axis?: number, keepdims = false): Tensor {
    return red.argmax(this, axis, keepdims);
  }
  /** See {@link red.any}. */
  any(axis?: Axis, keepdims = false): Tensor {
    return red.any(this, axis, keepdims);
  }
  /** See {@link red.all}. */
  all(axis?: Axis, keepdims = false): Tensor {
    return red.all(this, axis, keepdims);
  }
  /** See {@link red.logsumexp}. */
  logsumexp(axis?: Axis, keepdims = false): Tensor {
    return red.logsumexp(this, axis, keepdims);
  }
  /** See {@link red.cumsum}. */
  cumsum(axis?: number): Tensor {
    return red.cumsum(this, axis);
  }
  /** See {@link red.cumprod}. */
  cumprod(axis?: number): Tensor {
    return red.cumprod(this, axis);
  }
  /** See {@link red.norm}. */
  norm(ord?: red.NormOrder | null, axis?: Axis, keepdims = false): Tensor {
    return red.norm(this, ord, axis, keepdims);
  }
  /** See {@link red.softmax}. */
  softmax(axis = -1): Tensor {
    return red.softmax(this, axis);
  }
  /** See {@link red.logSoftmax}. */
  logSoftmax(axis = -1): Tensor {
    return red.logSoftmax(this, axis);
  }
  /** See {@link srt.sort}. */
  sort(axis = -1, descending = false): Tensor {
    return srt.sort(this, axis, descending);
  }
  /** See {@link srt.argsort}. */
  argsort(axis = -1, descending = false): Tensor {
    return srt.argsort(this, axis, descending);
  }

  /** See {@link srt.topk}: `[values, indices]`. */
  topk(k: number, options: srt.TopkOptions = {}): [Tensor, Tensor] {
    return srt.topk(this, k, options);
  }

  // ---- indexing, joining and linear algebra -----------------------------------------------

  /** See {@link idx.take}. */
  take(indices: TensorLike, axis?: number): Tensor {
    return idx.take(this, indices, axis);
  }
  /** See {@link idx.maskedSelect}. */
  maskedSelect(mask: TensorLike): Tensor {
    return idx.maskedSelect(this, mask);
  }
  /** See {@link idx.nonzero}. */
  nonzero(): Tensor {
    return idx.nonzero(this);
  }
  /** See {@link join.split}. */
  split(indicesOrSections: number | readonly number[], axis = 0): Tensor[] {
    return join.split(this, indicesOrSections, axis);
  }
  /** See {@link join.chunk}. */
  chunk(chunks: number, axis = 0): Tensor[] {
    return join.chunk(this, chunks, axis);
  }
  /** See {@link join.tile}. */
  tile(reps: number | readonly number[]): Tensor {
    return join.tile(this, reps);
  }
  /** See {@link join.repeat}. */
  repeat(repeats: number | readonly number[], axis?: number): Tensor {
    return join.repeat(this, repeats, axis);
  }
  /** See {@link join.roll}. */
  roll(shift: number | readonly number[], axis?: number | readonly number[]): Tensor {
    return join.roll(this, shift, axis);
  }
  /** See {@link join.pad}. */
  pad(padWidth: join.PadWidth, options?: join.PadOptions): Tensor {
    return join.pad(this, padWidth, options);
  }
  /** See {@link la.dot}. */
  dot(other: TensorLike): Tensor {
    return la.dot(this, other);
  }

  /** See {@link idx.gather}. */
  gather(axis: number, index: TensorLike): Tensor {
    return idx.gather(this, axis, index);
  }
  /** See {@link idx.indexSelect}. */
  indexSelect(axis: number, index: TensorLike): Tensor {
    return idx.indexSelect(this, axis, index);
  }
  /** See {@link la.matmul}. */
  matmul(other: TensorLike): Tensor {
    return la.matmul(this, other);
  }
}
