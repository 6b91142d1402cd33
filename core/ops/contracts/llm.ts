/**
 * Contracts of the fused LLM kernels (core/ops/llm.ts): rotary embeddings and RMS normalization,
 * each one kernel in place of a chain of elementwise ops in a decoder's forward pass.
 *
 * @module
 */
import type { RmsNormAttrs, RopeAttrs } from "../../backend/attrs.ts";
import type { Binary, Contracts, Op } from "./contract.ts";

/** The fused LLM ops: kernel name → contract. */
export interface LlmOps {
  /** (x [T, H, D], cos [T, dims/2], sin [T, dims/2]) → rotated x. */
  rope: Op<3, RopeAttrs>;
  /** (x [..., n], w [n]) → x · rsqrt(mean(x²) + eps) · w over the last axis. */
  rmsNorm: Binary<RmsNormAttrs>;
}

/**
 * The fused LLM contracts at run time.
 *
 * @example
 * ```ts
 * import { LLM_OPS } from "@aprender/compute/internal";
 * console.log(LLM_OPS.rope, LLM_OPS.rmsNorm); // 3 2
 * ```
 */
export const LLM_OPS: Contracts<LlmOps> = { rope: 3, rmsNorm: 2 };
