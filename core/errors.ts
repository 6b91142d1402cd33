/**
 * One error hierarchy for the whole library. Every message names the op, the offending
 * shapes/dtypes/devices, what was expected, and a hint where one helps.
 *
 * @module
 */

/**
 * Base class of every error this library throws on bad input.
 *
 * @example
 * ```ts
 * import { ComputeError, tensor } from "@aprender/compute";
 * try {
 *   tensor([[1, 2], [3]]);
 * } catch (e) {
 *   console.log(e instanceof ComputeError); // true
 * }
 * ```
 */
export class ComputeError extends Error {
  /**
   * Create an error; `name` is set to the subclass name.
   *
   * @param message what was wrong, what was expected, and a hint
   * @param options `cause`: the underlying error (e.g. the OS error of a failed file read)
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Shapes that do not fit: broadcasting, reshape sizes, matmul inner dimensions, ragged arrays.
 *
 * @example
 * ```ts
 * import { ShapeError, zeros } from "@aprender/compute";
 * try {
 *   zeros([2, 3]).reshape([4, 2]);
 * } catch (e) {
 *   console.log(e instanceof ShapeError); // true
 * }
 * ```
 */
export class ShapeError extends ComputeError {}

/**
 * A dtype an op does not support, or an unknown dtype name.
 *
 * @example
 * ```ts
 * import { DTypeError, tensor } from "@aprender/compute";
 * try {
 *   tensor([1, 2], { dtype: "float32" as never });
 * } catch (e) {
 *   console.log(e instanceof DTypeError); // true
 * }
 * ```
 */
export class DTypeError extends ComputeError {}

/**
 * Operands on different devices, or an op with no kernel on the tensor's device.
 *
 * @example
 * ```ts
 * import { DeviceError } from "@aprender/compute";
 * console.log(new DeviceError("add: operands live on cpu and gpu").name); // "DeviceError"
 * ```
 */
export class DeviceError extends ComputeError {}

/**
 * An index or axis out of range.
 *
 * @example
 * ```ts
 * import { IndexError, arange } from "@aprender/compute";
 * try {
 *   arange(3).select(0, 5);
 * } catch (e) {
 *   console.log(e instanceof IndexError); // true
 * }
 * ```
 */
export class IndexError extends ComputeError {}

/**
 * A malformed or unsupported file (npy, npz, safetensors, GGUF, ONNX).
 *
 * @example
 * ```ts
 * import { FormatError, loadNpy } from "@aprender/compute";
 * try {
 *   await loadNpy(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   console.log(e instanceof FormatError); // true
 * }
 * ```
 */
export class FormatError extends ComputeError {}

/**
 * Use of a tensor after `dispose()`.
 *
 * @example
 * ```ts
 * import { DisposedError, ones } from "@aprender/compute";
 * const t = ones([2]);
 * t.dispose();
 * try {
 *   t.dataSync();
 * } catch (e) {
 *   console.log(e instanceof DisposedError); // true
 * }
 * ```
 */
export class DisposedError extends ComputeError {}

/**
 * A numerical failure in linear algebra (singular matrix, no convergence).
 *
 * @example
 * ```ts
 * import { LinAlgError } from "@aprender/compute";
 * console.log(new LinAlgError("solve: singular matrix").name); // "LinAlgError"
 * ```
 */
export class LinAlgError extends ComputeError {}

/**
 * An allocation that cannot succeed: the element count or byte size is not representable, or it
 * exceeds what the device (or this machine) can hold. Raised before anything is allocated; the
 * message names the op, the shape, the bytes asked for and the limit.
 *
 * @example
 * ```ts
 * import { AllocationError, zeros } from "@aprender/compute";
 * try {
 *   zeros([1e6, 1e6]);
 * } catch (e) {
 *   console.log(e instanceof AllocationError); // true
 * }
 * ```
 */
export class AllocationError extends DeviceError {}

/**
 * An argument of a form or value the function does not accept (an unknown option, a NaN limit,
 * a slice written in a form that has no unambiguous meaning). The message shows the accepted
 * forms.
 *
 * @example
 * ```ts
 * import { ArgumentError, arange } from "@aprender/compute";
 * try {
 *   arange(4).slice([0, null, 2] as never);
 * } catch (e) {
 *   console.log(e instanceof ArgumentError); // true
 * }
 * ```
 */
export class ArgumentError extends ComputeError {}

/**
 * A file that cannot be read (missing, a directory, no permission). `cause` holds the runtime's
 * error.
 *
 * @example
 * ```ts
 * import { IOError, loadNpy } from "@aprender/compute";
 * try {
 *   await loadNpy("/no/such/file.npy");
 * } catch (e) {
 *   console.log(e instanceof IOError); // true
 * }
 * ```
 */
export class IOError extends ComputeError {}

/** Format a shape the way NumPy prints it: `(3, 4)`, `(5,)`, `()`. */
export function fmtShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}
