/**
 * Backward rules of the indexing ops.
 *
 * @module
 */
export {};
