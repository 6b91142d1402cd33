/**
 * Backward rules of the conv ops.
 *
 * @module
 */
export {};
