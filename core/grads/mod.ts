/**
 * Registers every backward rule (imported once by `mod.ts`).
 *
 * @module
 */
import "./views.ts";
import "./elementwise.ts";
import "./reduce.ts";
import "./linalg.ts";
