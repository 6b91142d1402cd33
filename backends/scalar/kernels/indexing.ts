// PLACEHOLDER: the scalar indexing kernels, written by the indexing helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the indexing family, by op name. */
export const kernels: Record<string, KernelFn> = {};
