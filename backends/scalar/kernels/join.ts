/**
 * Scalar kernels of the join family. There are none: concat, stack, pad, tile, repeat and roll
 * are composed in core/ops/join.ts from views, the `copy` kernel (through `copyInto`) and `take`,
 * so every backend that has `copy` and `take` runs them. A backend may still register fused
 * kernels here by op name.
 *
 * @module
 */
import type { ScalarKernelTable } from "../../../core/backend/plugin.ts";

/** Scalar kernels of the join family, by op name (none: see the module doc). */
export const kernels = {} satisfies Partial<ScalarKernelTable>;
