/**
 * Elementwise ops: arithmetic, comparisons, logic, math functions and activations. All of them
 * broadcast like NumPy and promote dtypes by NumPy 2's rules (NEP 50); a JS number operand is a
 * "weak" scalar that keeps the tensor's dtype where it fits (see {@link scalarPromote}).
 *
 * Each op is one row of a table giving its result-dtype rule (`elementwise_rules.ts`); the
 * exported functions are thin wrappers, and the kernels (one table of math per backend) are looked
 * up by the op's name. This module gathers the family: `arithmetic.ts`, `compare.ts`, `math.ts`,
 * `activation.ts`.
 *
 * @module
 */
export * from "./arithmetic.ts";
export * from "./compare.ts";
export * from "./math.ts";
export * from "./activation.ts";
