/**
 * The WASM module's ABI, the single list both sides are generated from: job kinds, elementwise
 * op codes, and the job block's layout with the named fields of each kind's kernel-specific
 * integers. `deno run backends/cpu/gen_abi.ts` writes `src/abi.generated.h` (C) and
 * `abi.generated.ts` (TS); CI regenerates both and fails if they differ from the committed ones.
 *
 * An op code's position in its list is its number: append, never reorder (the binaries embed
 * the numbers). Adding an accelerated elementwise op is one line here plus its C math.
 *
 * @module
 */

/** One op code: the C enumerator, and the kernel it serves (TS table and group). */
export interface OpCode {
  /** C enumerator (B_… binary, U_… unary). */
  readonly c: string;
  /** The kernel name the TS tables map to this code, or null (a code used internally). */
  readonly op: string | null;
  /** Which TS table holds it: arithmetic, comparison (bool out), logical (bool in/out), predicate. */
  readonly group: "arith" | "compare" | "logical" | "predicate" | "internal";
}

const op = (c: string, name: string | null, group: OpCode["group"] = "arith"): OpCode => ({
  c,
  op: name,
  group,
});

/** Binary op codes (KIND_BINARY jobs), in code order. */
export const BINARY_CODES: readonly OpCode[] = [
  op("B_ADD", "add"),
  op("B_SUB", "sub"),
  op("B_MUL", "mul"),
  op("B_DIV", "div"),
  op("B_MIN", "minimum"),
  op("B_MAX", "maximum"),
  op("B_RELU_BWD", "reluBackward"),
  op("B_EQ", "eq", "compare"),
  op("B_NE", "ne", "compare"),
  op("B_LT", "lt", "compare"),
  op("B_LE", "le", "compare"),
  op("B_GT", "gt", "compare"),
  op("B_GE", "ge", "compare"),
  op("B_AND", "logicalAnd", "logical"),
  op("B_OR", "logicalOr", "logical"),
  op("B_XOR", "logicalXor", "logical"),
  op("B_ATAN2", "atan2"),
  op("B_POW", "pow"),
  op("B_FLOORDIV", "floorDiv"),
  op("B_MOD", "mod"),
  op("B_LOGADDEXP", "logaddexp"),
  /** max(a + b, 0) in one pass (NaN and -0 pass as relu's): a fused residual add and Relu. */
  op("B_ADD_RELU", null, "internal"),
];

/** Unary op codes (KIND_UNARY jobs), in code order. */
export const UNARY_CODES: readonly OpCode[] = [
  op("U_EXP", "exp"),
  op("U_LOG", "log"),
  op("U_TANH", "tanh"),
  op("U_SIGMOID", "sigmoid"),
  op("U_RELU", "relu"),
  op("U_SILU", "silu"),
  op("U_GELU_TANH", "gelu"),
  op("U_SQRT", "sqrt"),
  op("U_NEG", "neg"),
  op("U_ABS", "abs"),
  op("U_SQUARE", "square"),
  op("U_FLOOR", "floor"),
  op("U_CEIL", "ceil"),
  op("U_ROUND", "round"),
  op("U_SIGN", "sign"),
  op("U_RSQRT", "rsqrt"),
  op("U_HARDSWISH", "hardswish"),
  op("U_CLIP", "clip"),
  op("U_LEAKY_RELU", "leakyRelu"),
  op("U_ELU", "elu"),
  op("U_SELU", "selu"),
  op("U_SOFTPLUS", "softplus"),
  op("U_MISH", "mish"),
  op("U_EXPM1", "expm1"),
  op("U_LOG1P", "log1p"),
  op("U_ISNAN", "isnan", "predicate"),
  op("U_ISINF", "isinf", "predicate"),
  op("U_ISFINITE", "isfinite", "predicate"),
  op("U_SINH", "sinh"),
  op("U_COSH", "cosh"),
  op("U_LOG2", "log2"),
  op("U_NOT", "logicalNot", "logical"),
  op("U_SIN", "sin"),
  op("U_COS", "cos"),
  op("U_TAN", "tan"),
  op("U_ATAN", "atan"),
  op("U_ASIN", "asin"),
  op("U_ACOS", "acos"),
  op("U_ERF", "erf"),
  /** gelu's exact (erf) form; "gelu" maps to its tanh form. */
  op("U_GELU_ERF", null, "internal"),
];

/** Job kinds (word 0 of a job block; a GEMM job has its dtype, 0 or 1, there), from 16. */
export const JOB_KINDS: readonly {
  readonly c: string;
  readonly ts: string;
  readonly doc: string;
}[] = [
  { c: "KIND_BINARY", ts: "binary", doc: "out = a (op) b, through strides" },
  { c: "KIND_UNARY", ts: "unary", doc: "out = op(a), through strides" },
  {
    c: "KIND_REDUCE",
    ts: "reduce",
    doc: "per line: sum / max / min / argmax (partials per slot for one long line)",
  },
  {
    c: "KIND_SOFTMAX",
    ts: "softmax",
    doc: "per line: fused softmax / logSoftmax / scans (or one phase of a split line)",
  },
  { c: "KIND_IM2COL", ts: "im2col", doc: "conv2d column matrix" },
  { c: "KIND_COPY", ts: "copy", doc: "out = cast(a), through strides (copy.c)" },
  { c: "KIND_POOL", ts: "pool", doc: "max/avg pooling and their gradients (train.c)" },
  { c: "KIND_COL2IM", ts: "col2im", doc: "conv2d input gradient from its column matrix (train.c)" },
  { c: "KIND_SUMROWS", ts: "sumRows", doc: "out (+)= sum of rows (train.c)" },
  { c: "KIND_ADAM", ts: "adam", doc: "fused Adam/AdamW step (optim.c)" },
  {
    c: "KIND_CONVBW",
    ts: "convBackwardWeight",
    doc: "direct conv2d weight gradient for few taps (train.c)",
  },
  { c: "KIND_WHERE", ts: "where", doc: "out = cond ? a : b, any element width (elementwise.c)" },
  // quantize.c (issue 12): f32 → ggml blocks, a slot per range of blocks
  { c: "KIND_QUANTIZE", ts: "quantize", doc: "blocks of ggml type `op` from f32 (quantize.c)" },

  // quantLinear (wasmq)
  { c: "KIND_QLINEAR", ts: "qlinear", doc: "y = x · wᵀ on packed GGUF weights (qlinear.c)" },

  // depthwise conv2d (onnx, issue 18)
  {
    c: "KIND_CONVDW",
    ts: "convDepthwise",
    doc: "depthwise conv2d, whole output planes (conv_dw.c)",
  },
  {
    c: "KIND_TRANSPOSE",
    ts: "transpose",
    doc: "batched 2-D transpose of 4-byte elements, (B, R, C) -> (B, C, R) (transpose.c)",
  },
];

/** The first job kind's number. */
export const FIRST_KIND = 16;

/** Axes a job's iteration space may have after merging. */
export const MAXDIM = 8;

/** A field of the job block: its C type, count, and int32 word offset. */
export interface JobField {
  /** Field name (C and TS). */
  readonly name: string;
  /** C element type. */
  readonly type: "int32_t" | "uint32_t" | "double";
  /** Number of elements (1 for a scalar). */
  readonly count: number;
  /** Comment in the C struct. */
  readonly doc: string;
}

/** The job block (`pjob_t`), in order; word offsets follow from the sizes. */
export const JOB_FIELDS: readonly JobField[] = [
  { name: "kind", type: "int32_t", count: 1, doc: "job kind (KIND_…)" },
  { name: "nslots", type: "int32_t", count: 1, doc: "slots the work is cut into" },
  { name: "next", type: "int32_t", count: 1, doc: "next slot to claim (atomic)" },
  { name: "done", type: "int32_t", count: 1, doc: "finished slots (atomic)" },
  { name: "op", type: "int32_t", count: 1, doc: "op code (B_…, U_…, or the kind's own)" },
  { name: "dtype", type: "int32_t", count: 1, doc: "0 f32, 1 f64, 2 bool" },
  { name: "ndim", type: "int32_t", count: 1, doc: "axes of the iteration space" },
  { name: "total", type: "int32_t", count: 1, doc: "elements of the iteration space" },
  { name: "ptr", type: "uint32_t", count: 4, doc: "out, a, b, aux (byte addresses)" },
  { name: "shape", type: "int32_t", count: MAXDIM, doc: "extents" },
  { name: "strides", type: "int32_t", count: 3 * MAXDIM, doc: "out, a, b (elements, signed)" },
  { name: "ia", type: "int32_t", count: 20, doc: "kernel-specific integers (JOB_IA below)" },
  { name: "fa", type: "double", count: 8, doc: "kernel-specific floats" },
];

/**
 * The named kernel-specific integers of each kind: index into `ia` (a field spanning several
 * words names its first). C reads `job->ia[IA_<GROUP>_<NAME>]`, TS writes
 * `w[JOB_IA.<group>.<name>]` (an absolute word index).
 */
export const JOB_IA: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  /** KIND_BINARY with B_RELU_BWD. */
  reluBackward: { leaky: 0 },
  /** KIND_WHERE. */
  where: { condStrides: 0, elemBytes: 8 },
  /** KIND_REDUCE. */
  reduce: { nlines: 0, n: 1, step: 2, outKind: 3, split: 4, lineStep: 7, columns: 8, std: 9 },
  /** KIND_SOFTMAX: softmax, logSoftmax and the scans, one line job. */
  line: {
    nlines: 0,
    n: 1,
    step: 2,
    carry: 3,
    split: 4,
    phase: 5,
    outStep: 6,
    lineStep: 7,
    parts: 8,
  },
  /** KIND_SUMROWS. */
  sumRows: { rows: 0, len: 1, accumulate: 2 },
  /** KIND_ADAM. */
  adam: { vmax: 0, maximize: 1, decay: 2 },
  /** KIND_IM2COL, KIND_POOL, KIND_COL2IM, KIND_CONVBW: the window geometry words (im2col.ts). */
  window: { geometry: 0 },
  /** KIND_TRANSPOSE: batches, rows and columns of the input matrices. */
  transpose: { b: 0, r: 1, c: 2 },
  /** KIND_QLINEAR (qlinear.c): weight type code, sizes, weight row bytes, mode, sums address. */
  qlinear: { wtype: 0, m: 1, n: 2, k: 3, rowBytes: 4, mode: 5, sums: 6 },
};
