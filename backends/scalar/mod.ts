/**
 * The scalar backend: plain TypeScript kernels for every op, on host memory. It is the reference
 * every other backend is tested against, and the fallback for any op another plugin lacks.
 *
 * @module
 */
import type { Backend, ScalarKernelTable } from "../../core/backend/plugin.ts";
import { ALL_DTYPES } from "../../core/dtype.ts";
import { copy } from "./kernels/copy.ts";
import { kernels as elementwise } from "./kernels/elementwise.ts";
import { kernels as reduce } from "./kernels/reduce.ts";
import { kernels as sort } from "./kernels/sort.ts";
import { kernels as indexing } from "./kernels/indexing.ts";
import { kernels as join } from "./kernels/join.ts";
import { kernels as matmul } from "./kernels/matmul.ts";
import { kernels as conv } from "./kernels/conv.ts";
import { kernels as lapack } from "./kernels/lapack.ts";
import { kernels as optim } from "./kernels/optim.ts";
import { kernels as norm } from "./kernels/norm.ts";
import { kernels as layerNorm } from "./kernels/layer_norm.ts";
import { kernels as quant } from "./kernels/quant.ts";
import { kernels as quantLinear } from "./kernels/quant_linear.ts";
import { kernels as llm } from "./kernels/llm.ts";

/** Every declared op's reference kernel: a missing one is a compile error. */
const kernels: ScalarKernelTable = {
  copy,
  ...elementwise,
  ...reduce,
  ...sort,
  ...indexing,
  ...join,
  ...matmul,
  ...conv,
  ...lapack,
  ...optim,
  ...norm,
  ...layerNorm,
  ...quant,
  ...quantLinear,
  ...llm,
};

/**
 * The scalar (pure TypeScript) backend plugin.
 *
 * @example
 * ```ts
 * import { scalarBackend } from "@aprender/compute";
 * console.log(scalarBackend.name, Object.keys(scalarBackend.kernels).length > 10); // scalar true
 * ```
 */
export const scalarBackend: Backend = {
  name: "scalar",
  device: "cpu",
  probe: () => ({ available: true, dtypes: [...ALL_DTYPES], threads: 1 }),
  kernels,
};
