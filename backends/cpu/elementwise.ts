/**
 * Elementwise and comparison jobs of the CPU runtime's WASM module (src/elementwise.c) on raw
 * heap addresses: the op codes (generated from abi.ts, the C module's ABI) and the job runner that the WASM plugin's
 * elementwise kernels and the OpenBLAS plugin's conv (bias add) both use.
 *
 * @module
 */
import { coalesceAxes } from "../../core/shape.ts";
import { beginJob, JOB_IA, KIND, MAXDIM, plan, runPar, W } from "./jobs.ts";
import { BINARY_CODE_COUNT, UNARY_CODE_COUNT } from "./abi.generated.ts";
import { DeviceError } from "../../core/errors.ts";

export {
  ADD_RELU,
  BINARY_CODE_COUNT,
  BINARY_OPS,
  COMPARE_OPS,
  GELU_ERF,
  LOGICAL_OPS,
  PREDICATE_OPS,
  UNARY_CODE_COUNT,
  UNARY_OPS,
} from "./abi.generated.ts";

/** Elements from which the pool is used: memory-bound ops, and transcendental ones. */
export const PAR_MIN_CHEAP = 1 << 16, PAR_MIN_HEAVY = 1 << 15;

/**
 * Drop length-1 axes and merge axes contiguous in every operand. Returns null when more than
 * {@link MAXDIM} axes remain.
 */
export function mergeAxes(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { dims: number[]; st: number[][] } | null {
  const c = coalesceAxes(shape, strides);
  return c.shape.length > MAXDIM ? null : { dims: c.shape, st: c.strides };
}

/**
 * Run an elementwise job on raw operands: `addrs` are byte addresses of element 0 of the output
 * and inputs, `strides` their element strides over `shape` (broadcast already applied);
 * `extra` sets the job's first kernel-specific integer and float (reluBackward's leaky flag and
 * slope).
 */
export function runElementwise(
  kind: "binary" | "unary",
  op: number,
  dtype: "f32" | "f64" | "bool",
  shape: readonly number[],
  addrs: readonly number[],
  strides: readonly (readonly number[])[],
  heavy: boolean,
  extra: { ia0?: number; fa0?: number; fa1?: number } = {},
  merged?: { dims: number[]; st: number[][] },
): void {
  const count = kind === "binary" ? BINARY_CODE_COUNT : UNARY_CODE_COUNT;
  if (!Number.isInteger(op) || op < 0 || op >= count) {
    throw new DeviceError(
      `wasm ${kind} job: op code ${op} is not in the ABI list (0..${count - 1}). ` +
        `Hint: take codes from backends/cpu/abi.generated.ts (generated from abi.ts).`,
    );
  }
  const total = shape.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const m = merged ?? mergeAxes(shape, strides)!;
  const v = beginJob(kind === "binary" ? KIND.binary : KIND.unary);
  const w = v.i32;
  w[W.op] = op;
  w[W.dtype] = dtype === "bool" ? 2 : dtype === "f64" ? 1 : 0;
  w[W.ndim] = m.dims.length;
  w[W.total] = total;
  for (let j = 0; j < 3; j++) w[W.ptr + j] = addrs[j] ?? 0;
  w[JOB_IA.reluBackward.leaky] = extra.ia0 ?? 0;
  v.f64[W.fa64] = extra.fa0 ?? 0;
  v.f64[W.fa64 + 1] = extra.fa1 ?? 0;
  for (let d = 0; d < m.dims.length; d++) {
    w[W.shape + d] = m.dims[d];
    for (let j = 0; j < m.st.length; j++) w[W.strides + j * MAXDIM + d] = m.st[j][d];
  }
  const p = plan(total, heavy ? PAR_MIN_HEAVY : PAR_MIN_CHEAP);
  runPar(v, p.slots, p.threads);
}
