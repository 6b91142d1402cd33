/**
 * File formats.
 *
 * @module
 */
export * from "./npy.ts";
