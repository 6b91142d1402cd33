/**
 * Automatic mixed precision (PyTorch's `torch.autocast`): inside an {@link autocast} scope the
 * ops that gain from half precision take half-precision operands, and the ops that need range
 * or accuracy take f32 ones, whatever dtype their inputs arrive in.
 *
 * - **Half-precision ops** (`matmul`, `linear`, `conv2d`, and what is built on them: attention's
 *   products, `Linear`, `Conv2d`): float operands are converted to the scope's dtype (f16 or bf16)
 *   and the result has that dtype. The kernels accumulate in f32 (the WebGPU f16 GEMM sums
 *   chunks of 32 products in f16 first: `GpuContext.f16GemmChunk`).
 * - **f32 ops** (`softmax`, `logSoftmax`, the losses, batch and layer normalization): half-precision
 *   inputs are converted to f32, so statistics, exponentials and losses are computed and returned
 *   in f32.
 * - Everything else runs in its inputs' dtype (NumPy promotion), like PyTorch.
 *
 * Parameters stay f32 (master weights): the conversions are ordinary differentiable `astype`
 * calls, so gradients arrive in the parameters' dtype. Scale the loss with `optim.GradScaler` to
 * keep f16 gradients from underflowing. The scope is global and synchronous in spirit: a scope
 * left open across an `await` also applies to other code that runs meanwhile.
 *
 * @module
 */
import type { Own } from "./dispose.ts";
import { DTypeError } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

/** The dtypes an autocast scope can compute in. */
export type AutocastDType = "f16" | "bf16";

/** Options of {@link autocast}. */
export interface AutocastOptions {
  /** Half-precision dtype of the half-precision ops (default "f16"). */
  dtype?: AutocastDType;
  /** False opens a scope that turns autocasting off (default true), like PyTorch's switch. */
  enabled?: boolean;
}

/** An open autocast scope: dispose it (or let `using` do so) to restore the previous state. */
export interface AutocastScope extends Disposable {
  /** The dtype this scope computes half-precision ops in, or null where it disables autocast. */
  readonly dtype: AutocastDType | null;
}

let current: AutocastDType | null = null;

/**
 * Open an autocast scope; `using` closes it at the end of the block. Scopes nest: closing one
 * restores the state it found (PyTorch's `with torch.autocast(...)`).
 *
 * @example
 * ```ts
 * import { autocast, matmul, ones } from "@aprender/compute";
 * const a = ones([2, 2]);
 * {
 *   using _amp = autocast({ dtype: "f16" });
 *   console.log(matmul(a, a).dtype); // "f16"
 * }
 * console.log(matmul(a, a).dtype); // "f32"
 * ```
 */
export function autocast(options: AutocastOptions = {}): AutocastScope {
  const dtype = options.dtype ?? "f16";
  if (dtype !== "f16" && dtype !== "bf16") {
    throw new DTypeError(
      `autocast: dtype must be "f16" or "bf16", got ${JSON.stringify(dtype)}. ` +
        `Hint: f32 needs no autocast scope.`,
    );
  }
  const prev = current;
  const now = options.enabled === false ? null : dtype;
  current = now;
  let open = true;
  return {
    dtype: now,
    [Symbol.dispose]() {
      if (!open) return;
      open = false;
      current = prev;
    },
  };
}

/**
 * The dtype of the innermost open autocast scope, or null outside any (or inside a disabled one).
 *
 * @example
 * ```ts
 * import { autocast, autocastDType } from "@aprender/compute";
 * using _amp = autocast();
 * console.log(autocastDType()); // "f16"
 * ```
 */
export function autocastDType(): AutocastDType | null {
  return current;
}

const FLOATS = new Set(["f16", "bf16", "f32", "f64"]);

/**
 * Convert a half-precision op's float operand to the scope's dtype (differentiably); returns
 * the tensor itself outside a scope, for non-float tensors and where it already has that dtype.
 * The caller owns (disposes) a converted tensor: compare it with the argument.
 */
export function castHalf(t: Tensor): Tensor {
  const d = current;
  if (d === null || t.dtype === d || !FLOATS.has(t.dtype)) return t;
  return t.astype(d);
}

/**
 * Convert an f32 op's half-precision input to f32 inside a scope (differentiably); returns the
 * tensor itself otherwise. The caller owns a converted tensor.
 */
export function castF32(t: Tensor): Tensor {
  if (current === null || (t.dtype !== "f16" && t.dtype !== "bf16")) return t;
  return t.astype("f32");
}

/** {@link castHalf}, with a converted tensor handed to `own` (a `scoped` call's registrar). */
export function ownHalf(own: Own, t: Tensor): Tensor {
  const c = castHalf(t);
  return c === t ? t : own(c);
}

/** Run `fn` on {@link castF32}'s result, disposing a converted tensor afterwards. */
export function withF32<T>(t: Tensor, fn: (t: Tensor) => T): T {
  const c = castF32(t);
  try {
    return fn(c);
  } finally {
    if (c !== t) c.dispose();
  }
}
