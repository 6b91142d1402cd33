/**
 * How an op's contract is declared: once, in its family's declaration module
 * (`core/ops/contracts/<family>.ts`), as one entry of the family's interface (kernel name →
 * operand count and attribute type) plus the same name in the family's run-time table, which the
 * type checker holds to the interface (a missing, extra or different entry is a compile error).
 * The dispatcher's `runKernel` and every backend's kernel table are typed against these
 * declarations (`mod.ts`), so a misspelt op name, a missing scalar kernel or wrong attributes
 * fail `deno check`.
 *
 * @module
 */

/** Attributes of an op that takes none. */
export type NoAttrs = Record<string, never>;

/**
 * One op's contract as a type: its operand count ("variadic" for einsum, conv2d's optional bias,
 * ...) and its attribute type.
 */
export interface Op<I extends number | "variadic", A> {
  /** Number of input tensors. */
  readonly inputs: I;
  /** The attributes the op passes and its kernels receive (type only). */
  readonly attrs: A;
}

/** A unary op's contract (one input). */
export type Unary<A = NoAttrs> = Op<1, A>;
/** A binary op's contract (two inputs). */
export type Binary<A = NoAttrs> = Op<2, A>;

/**
 * The run-time table of a family's contracts: each declared name with its operand count, held by
 * the type checker to the family's interface `M`.
 *
 * @example
 * ```ts
 * import type { Contracts, Unary } from "./contract.ts";
 * interface MyOps { myNeg: Unary }
 * const MY_OPS: Contracts<MyOps> = { myNeg: 1 };
 * console.log(MY_OPS.myNeg); // 1
 * ```
 */
export type Contracts<M extends { [N in keyof M]: Op<number | "variadic", unknown> }> = {
  readonly [N in keyof M]: M[N]["inputs"];
};
