// PLACEHOLDER: the scalar linalg kernels, written by the linalg helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the linalg family, by op name. */
export const kernels: Record<string, KernelFn> = {};
