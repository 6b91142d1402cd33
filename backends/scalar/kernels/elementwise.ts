// PLACEHOLDER: the scalar elementwise kernels, written by the elementwise helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the elementwise family, by op name. */
export const kernels: Record<string, KernelFn> = {};
