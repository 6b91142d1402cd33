// PLACEHOLDER: the scalar reduce kernels, written by the reduce helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the reduce family, by op name. */
export const kernels: Record<string, KernelFn> = {};
