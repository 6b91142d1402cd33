/**
 * Backward rules of the sort ops.
 *
 * @module
 */
export {};
