// PLACEHOLDER: the scalar sort kernels, written by the sort helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the sort family, by op name. */
export const kernels: Record<string, KernelFn> = {};
