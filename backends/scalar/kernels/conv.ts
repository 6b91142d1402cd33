// PLACEHOLDER: the scalar conv kernels, written by the conv helper.
import type { KernelFn } from "../../backend.ts";

/** Scalar kernels of the conv family, by op name. */
export const kernels: Record<string, KernelFn> = {};
