/**
 * Elementwise kernels over tensors in the WASM heap (src/elementwise.c): binary add sub mul div
 * minimum maximum and unary exp log tanh sigmoid relu silu gelu (tanh form) sqrt neg abs square
 * floor ceil round sign rsqrt hardswish,
 * f32 and f64, each operand read through its broadcast strides (no materialized broadcast).
 *
 * The iteration space is the output's shape with length-1 axes dropped and neighbouring axes
 * merged where every operand is contiguous across them (at most 8 axes remain, else the call is
 * declined), so contiguous operands run as one row and "matrix + row vector" as rows that
 * restart the vector. Large calls are cut into slots of consecutive output elements for the
 * worker pool.
 *
 * @module
 */
import type { Kernel, KernelCall, OpKernelTable } from "../../core/backend/plugin.ts";
import { broadcastStrides } from "../../core/shape.ts";
import { elementBytes } from "../../core/dtype.ts";
import { inWasmHeap } from "./gemm.ts";
import { address, beginJob, JOB_IA, KIND, MAXDIM, plan, runPar, W } from "../cpu/jobs.ts";
import {
  BINARY_OPS,
  COMPARE_OPS,
  GELU_ERF,
  LOGICAL_OPS,
  mergeAxes,
  PAR_MIN_CHEAP,
  PREDICATE_OPS,
  runElementwise,
  UNARY_OPS,
} from "../cpu/elementwise.ts";

/** The parameters a unary op reads from its attrs (job floats fa[0], fa[1]). */
const UNARY_PARAMS: Record<string, (a: Record<string, number>) => [number, number]> = {
  clip: (a) => [a.min ?? -Infinity, a.max ?? Infinity],
  leakyRelu: (a) => [a.negativeSlope, 0],
  elu: (a) => [a.alpha, 0],
  softplus: (a) => [a.beta, a.threshold],
};
/** Ops whose cost per element makes threads pay off sooner. */
const HEAVY = new Set([
  "exp",
  "log",
  "tanh",
  "sigmoid",
  "silu",
  "gelu",
  "elu",
  "selu",
  "softplus",
  "mish",
  "expm1",
  "log1p",
  "sinh",
  "cosh",
  "log2",
  "sin",
  "cos",
  "tan",
  "atan",
  "asin",
  "acos",
  "erf",
  "atan2",
  "pow",
  "floorDiv",
  "mod",
]);

/** The merged iteration space of an elementwise call. */
type Merged = { dims: number[]; st: number[][] };

/** The merged iteration space of an elementwise call (operands: out, then the inputs). */
function merge(call: KernelCall): Merged | null {
  const [out] = call.outputs;
  const strides = [
    out.strides,
    ...call.inputs.map((t) => broadcastStrides(t.shape, t.strides, out.shape)),
  ];
  return mergeAxes(out.shape, strides);
}

/**
 * The merged iteration space when every operand fits the kernel (one float dtype, bool with
 * `boolIn`, in the heap, ≤ 8 merged axes; the output of the inputs' dtype, or bool with
 * `boolOut`), else null.
 */
function accepts(call: KernelCall, boolOut = false, boolIn = false): Merged | null {
  const [out] = call.outputs, d = call.inputs[0]?.dtype;
  if (!out || out.size >= 2 ** 31) return null;
  if (boolIn ? d !== "bool" : d !== "f32" && d !== "f64") return null;
  if (out.dtype !== (boolOut ? "bool" : d)) return null;
  if (!call.inputs.every((t) => t.dtype === d && inWasmHeap(t)) || !inWasmHeap(out)) {
    return null;
  }
  return merge(call);
}

function binaryKernel(name: keyof typeof BINARY_OPS): Kernel {
  const code = BINARY_OPS[name], heavy = HEAVY.has(name);
  const run = (call: KernelCall, m: Merged): void => {
    const [a, b] = call.inputs, [out] = call.outputs;
    runElementwise(
      "binary",
      code,
      out.dtype as "f32" | "f64",
      out.shape,
      [address(out), address(a), address(b)],
      m.st,
      heavy,
      {},
      m,
    );
  };
  return {
    plan(call) {
      const m = call.inputs.length === 2 ? accepts(call) : null;
      return m && ((c: KernelCall) => run(c, m));
    },
  };
}

function unaryKernel(name: keyof typeof UNARY_OPS): Kernel {
  const code = UNARY_OPS[name];
  const heavy = HEAVY.has(name), params = UNARY_PARAMS[name];
  const run = (call: KernelCall, m: Merged): void => {
    const [a] = call.inputs, [out] = call.outputs;
    const [fa0, fa1] = params ? params(call.attrs as Record<string, number>) : [0, 0];
    // gelu: the tanh approximation, or the exact form through erf.
    const exactGelu = name === "gelu" &&
      (call.attrs as { approximate?: string }).approximate !== "tanh";
    runElementwise(
      "unary",
      exactGelu ? GELU_ERF : code,
      out.dtype as "f32" | "f64",
      out.shape,
      [address(out), address(a)],
      m.st,
      heavy,
      { fa0, fa1 },
      m,
    );
  };
  return {
    plan(call) {
      const m = call.inputs.length === 1 ? accepts(call) : null;
      return m && ((c: KernelCall) => run(c, m));
    },
  };
}

/** Run a comparison, predicate or logical op (operands of `dtype`) into its bool output. */
function runBoolOut(
  call: KernelCall,
  m: Merged,
  binary: boolean,
  code: number,
  dtype: "f32" | "f64" | "bool",
): void {
  const [out] = call.outputs;
  runElementwise(
    binary ? "binary" : "unary",
    code,
    dtype,
    out.shape,
    [address(out), ...call.inputs.map(address)],
    m.st,
    false,
    {},
    m,
  );
}

/** A comparison (binary) or predicate (unary) kernel: float operands, bool output. */
function boolKernel(name: keyof typeof COMPARE_OPS | keyof typeof PREDICATE_OPS): Kernel {
  const binary = name in COMPARE_OPS;
  const code = binary
    ? COMPARE_OPS[name as keyof typeof COMPARE_OPS]
    : PREDICATE_OPS[name as keyof typeof PREDICATE_OPS];
  return {
    plan(call) {
      const m = call.inputs.length === (binary ? 2 : 1) ? accepts(call, true) : null;
      return m &&
        ((c: KernelCall) => runBoolOut(c, m, binary, code, c.inputs[0].dtype as "f32" | "f64"));
    },
  };
}

/**
 * `where` (contract of backends/scalar/kernels/indexing.ts): cond (bool), a and b (the output's
 * dtype, any width) through their broadcast strides, as raw element copies (src/elementwise.c).
 */
const where: Kernel = {
  plan(call: KernelCall) {
    const [c, a, b] = call.inputs, [out] = call.outputs;
    if (!c || !a || !b || !out || c.dtype !== "bool" || out.size >= 2 ** 31) return null;
    if (a.dtype !== out.dtype || b.dtype !== out.dtype) return null;
    const m = [c, a, b, out].every(inWasmHeap) ? merge(call) : null; // operands out, cond, a, b
    return m && ((call: KernelCall) => runWhere(call, m));
  },
};

function runWhere(call: KernelCall, m: Merged): void {
  const [c, a, b] = call.inputs, [out] = call.outputs;
  if (out.size === 0) return;
  const v = beginJob(KIND.where);
  const w = v.i32;
  w[W.ndim] = m.dims.length;
  w[W.total] = out.size;
  [out, a, b, c].forEach((t, j) => (w[W.ptr + j] = address(t)));
  for (let d = 0; d < m.dims.length; d++) {
    w[W.shape + d] = m.dims[d];
    [0, 2, 3].forEach((k, j) => (w[W.strides + j * MAXDIM + d] = m.st[k][d]));
    w[JOB_IA.where.condStrides + d] = m.st[1][d];
  }
  w[JOB_IA.where.elemBytes] = elementBytes(out.dtype);
  const p = plan(out.size, PAR_MIN_CHEAP);
  runPar(v, p.slots, p.threads);
}

/** A logical op: bool operands and output (bytes; any non-zero byte is true). */
function logicalKernel(name: keyof typeof LOGICAL_OPS): Kernel {
  const code = LOGICAL_OPS[name], binary = name !== "logicalNot";
  return {
    plan(call) {
      const m = call.inputs.length === (binary ? 2 : 1) ? accepts(call, true, true) : null;
      return m && ((c: KernelCall) => runBoolOut(c, m, binary, code, "bool"));
    },
  };
}

/** The keys of a generated op-code table. */
const keys = <K extends string>(t: Readonly<Record<K, number>>) => Object.keys(t) as K[];

/** The elementwise kernels by op name: one per op code of the ABI list (abi.ts). */
export const elementwiseKernels: OpKernelTable = {
  where,
  ...Object.fromEntries(keys(LOGICAL_OPS).map((k) => [k, logicalKernel(k)])),
  ...Object.fromEntries(keys(COMPARE_OPS).map((k) => [k, boolKernel(k)])),
  ...Object.fromEntries(keys(PREDICATE_OPS).map((k) => [k, boolKernel(k)])),
  ...Object.fromEntries(
    keys(BINARY_OPS).filter((k) => k !== "reluBackward").map((k) => [k, binaryKernel(k)]),
  ),
  ...Object.fromEntries(keys(UNARY_OPS).map((k) => [k, unaryKernel(k)])),
};
