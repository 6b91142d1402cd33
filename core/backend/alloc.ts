/**
 * Allocation for kernels: a plugin whose output shape depends on the data (nonzero, masked
 * select), or that needs scratch space, allocates views here without importing the `Tensor`
 * class (the plugin interface speaks of {@link TensorView}s only).
 *
 * @module
 */
import type { DType } from "../dtype.ts";
import { Tensor } from "../tensor.ts";
import type { OwnedView } from "./plugin.ts";

/**
 * A new contiguous view on `device`, zero-filled unless `zero` is false; counted by `memory()`.
 * A kernel disposes it, or returns it as an output (the dispatcher hands it to the caller).
 *
 * @example
 * ```ts
 * import { emptyView } from "@aprender/compute/internal";
 * const v = emptyView([2, 3], "f32", "cpu");
 * console.log(v.size); // 6
 * v.dispose();
 * ```
 */
export function emptyView(
  shape: readonly number[],
  dtype: DType,
  device: string,
  zero = true,
): OwnedView {
  return Tensor.empty(shape, dtype, device, zero);
}
