/**
 * Backward rules of the join ops.
 *
 * @module
 */
export {};
