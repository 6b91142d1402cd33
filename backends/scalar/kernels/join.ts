// PLACEHOLDER: the scalar join kernels, written by the join helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the join family, by op name. */
export const kernels: Record<string, KernelFn> = {};
