/**
 * Every op's contract, merged from the family declarations: the typed op names that
 * `runKernel` accepts and the kernel tables every backend is typed against.
 *
 * How to add an op: declare it in its family's module here (an interface entry with its operand
 * count and attribute type, and its name in the family's run-time table), add its row to the
 * scalar backend (a compile error until you do), then any accelerated kernels (typed the same
 * way), and its gradient rule in core/grads/. See docs/ARCHITECTURE.md.
 *
 * @module
 */
import type { Binary, Contracts, NoAttrs, Unary } from "./contract.ts";
import type { QuantLinearAttrs } from "../../backend/attrs.ts";
import { ELEMENTWISE_OPS, type ElementwiseOps } from "./elementwise.ts";
import { REDUCE_OPS, type ReduceOps } from "./reduce.ts";
import { INDEXING_OPS, type IndexingOps } from "./indexing.ts";
import { LINALG_OPS, type LinalgOps } from "./linalg.ts";
import { CONV_OPS, type ConvOps } from "./conv.ts";
import { LLM_OPS, type LlmOps } from "./llm.ts";

export type { Binary, Contracts, NoAttrs, Op, Unary } from "./contract.ts";
export type { BinaryOp, ElementwiseOps, UnaryAttrs, UnaryOp } from "./elementwise.ts";
export type {
  LineAttrs,
  LineOp,
  ReduceAttrs,
  ReduceOp,
  ReduceOps,
  SoftmaxAttrs,
} from "./reduce.ts";
export type { AxisAttrs, IndexingOps, ScatterAttrs, SortAttrs } from "./indexing.ts";
export type { EinsumAttrs, LinalgOps } from "./linalg.ts";
export type { ConvOps } from "./conv.ts";
export type { LlmOps } from "./llm.ts";
export { LLM_OPS } from "./llm.ts";

/**
 * The ops that read block-quantized operands: the conversions the dtype table's rows name, and
 * `quantLinear` (activations times packed weights). The scalar backend's kernels run core/quant's
 * codecs; faster plugins may add their own.
 */
export interface BlockOps {
  /** block type → f32 */
  dequantize: Unary<NoAttrs>;
  /** f32 → block type */
  quantize: Unary<NoAttrs>;
  /** (x f32, w of any storage type) → x·wᵀ */
  quantLinear: Binary<QuantLinearAttrs>;
}

/**
 * The block conversions' contracts at run time.
 *
 * @example
 * ```ts
 * import { BLOCK_OPS } from "@aprender/compute/internal";
 * console.log(Object.keys(BLOCK_OPS)); // ["dequantize", "quantize", "quantLinear"]
 * ```
 */
export const BLOCK_OPS: Contracts<BlockOps> = { dequantize: 1, quantize: 1, quantLinear: 2 };

/** A block-type conversion kernel's name. */
export type BlockOp = keyof BlockOps;

/** Every declared op: kernel name → contract (operand count, attribute type). */
export interface AllOps
  extends ElementwiseOps, ReduceOps, IndexingOps, LinalgOps, ConvOps, BlockOps, LlmOps {}

/**
 * Every declared op by kernel name, with its operand count.
 *
 * @example
 * ```ts
 * import { OPS } from "@aprender/compute/internal";
 * console.log(OPS.add, OPS.neg); // 2 1
 * ```
 */
export const OPS: Contracts<AllOps> = {
  ...ELEMENTWISE_OPS,
  ...REDUCE_OPS,
  ...INDEXING_OPS,
  ...LINALG_OPS,
  ...CONV_OPS,
  ...BLOCK_OPS,
  ...LLM_OPS,
};

/** A declared op (kernel) name. */
export type OpName = keyof AllOps;

/** The attribute type op `N` declares (a union over a union of names). */
export type AttrsOf<N extends OpName> = N extends OpName ? AllOps[N]["attrs"] : never;

/**
 * Whether `name` is a declared op.
 *
 * @example
 * ```ts
 * import { isOpName } from "@aprender/compute/internal";
 * console.log(isOpName("add"), isOpName("addd")); // true false
 * ```
 */
export function isOpName(name: string): name is OpName {
  return Object.hasOwn(OPS, name);
}
