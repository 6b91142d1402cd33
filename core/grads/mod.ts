/**
 * Registers every backward rule (imported once by `mod.ts`).
 *
 * @module
 */
import "./views.ts";
import "./elementwise.ts";
import "./reduce.ts";
import "./sort.ts";
import "./matmul.ts";
import "./indexing.ts";
import "./join.ts";
import "./conv.ts";
import "./norm.ts";
