/**
 * 64-bit integer arithmetic on the GPU: add, sub, mul, neg, abs, maximum, minimum, the six
 * comparisons and `where`, for calls where an operand or the output is i64 (the other integer
 * operands, i8..i32, u8, u16, u32 and bool, are widened exactly: sign- or zero-extended).
 *
 * WGSL has no 64-bit integers, so an i64 is its two little-endian u32 words (low, high), as
 * storage holds it, and the arithmetic is done on the pair: add/sub with the carry/borrow of the
 * low words, mul by 16-bit partial products of the low words (the high words only contribute
 * their low 32 bits), comparisons on the signed high word then the unsigned low word. Results wrap
 * modulo 2^64 like NumPy's int64 (2^63 - 1 + 1 = -2^63; abs(-2^63) = -2^63).
 *
 * This lets a training step keep BatchNorm's `num_batches_tracked` (i64, += 1 per batch) and
 * int64 class targets on the GPU (the cross-entropy's `ignoreIndex` mask compares them).
 *
 * @module
 */
import type { KernelCall, KernelEntry, TensorView } from "../../../core/backend/plugin.ts";
import type { OpName } from "../../../core/ops/contracts/mod.ts";
import type { DType } from "../../../core/dtype.ts";
import { elementBytes } from "../../../core/dtype.ts";
import { coalesceAxes } from "../../../core/shape.ts";
import type { GpuContext } from "../context.ts";
import {
  bstrides,
  decl,
  grid,
  loadFn,
  off,
  prmDecl,
  stOf,
  storeFn,
  THREAD,
  TID,
  WG,
} from "./wgsl.ts";

/** The i64 expression of each op over the operands `x`, `y` (vec2<u32> pairs). */
const ARITH: Record<string, string> = {
  add: "add64(x, y)",
  sub: "sub64(x, y)",
  mul: "mul64(x, y)",
  neg: "sub64(vec2<u32>(0u, 0u), x)",
  abs: "select(x, sub64(vec2<u32>(0u, 0u), x), bitcast<i32>(x.y) < 0)",
  maximum: "select(x, y, lt64(x, y))",
  minimum: "select(x, y, lt64(y, x))",
};

/** The bool expression of each comparison. */
const CMP: Record<string, string> = {
  eq: "all(x == y)",
  ne: "any(x != y)",
  lt: "lt64(x, y)",
  le: "!lt64(y, x)",
  gt: "lt64(y, x)",
  ge: "!lt64(x, y)",
};

/** The pair arithmetic (wrapping modulo 2^64). */
const I64_MATH = `
fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}
// The full 64-bit product of two u32, from 16-bit halves.
fn mulwide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (p00 & 0xffffu) | (mid << 16u);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2<u32>(lo, hi);
}
fn mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let p = mulwide(a.x, b.x);
  return vec2<u32>(p.x, p.y + a.x * b.y + a.y * b.x);
}
fn lt64(a: vec2<u32>, b: vec2<u32>) -> bool {
  let ah = bitcast<i32>(a.y); let bh = bitcast<i32>(b.y);
  return ah < bh || (ah == bh && a.x < b.x);
}`;

/** Integer dtypes widened exactly to i64 here. */
const WIDEN = new Set<DType>(["i8", "u8", "i16", "u16", "i32", "u32", "bool", "i64"]);

const MAX_RANK = 10;

/** `fn l_<b>(i: i32) -> vec2<u32>`: element `i` of buffer `b` holding `d`, widened to i64. */
function load64(b: string, d: DType): string {
  if (d === "i64") {
    return `fn l_${b}(i: i32) -> vec2<u32> { return vec2<u32>(${b}[2 * i], ${b}[2 * i + 1]); }`;
  }
  if (d === "u32") return `fn l_${b}(i: i32) -> vec2<u32> { return vec2<u32>(${b}[i], 0u); }`;
  // i8..i32, u8, u16, bool load exactly as i32 (unsigned ones non-negative): sign-extend.
  return `${loadFn(b, d, "i")}
fn l_${b}(i: i32) -> vec2<u32> { let v = ld_${b}(i); return vec2<u32>(bitcast<u32>(v), select(0u, 0xffffffffu, v < 0)); }`;
}

/** What the kernel computes for a call, or null where it is not an i64 call it handles. */
interface Plan64 {
  /** Result: an i64 pair ("l"), or a bool ("b"). */
  out: "l" | "b";
  /** The expression. */
  expr: string;
}

function plan64(call: KernelCall): Plan64 | null {
  const out = call.outputs[0];
  if (!out || call.outputs.length !== 1) return null;
  const ins = call.inputs;
  if (!ins.length || ins.length > 3) return null;
  const any64 = out.dtype === "i64" || ins.some((t) => t.dtype === "i64");
  if (!any64) return null;
  if (call.op === "where") {
    if (ins.length !== 3 || out.dtype !== "i64" || ins[0].dtype !== "bool") return null;
    if (!WIDEN.has(ins[1].dtype) || !WIDEN.has(ins[2].dtype)) return null;
    return { out: "l", expr: "select(z, y, x.x != 0u)" };
  }
  if (!ins.every((t) => WIDEN.has(t.dtype))) return null;
  if (call.op in CMP) {
    if (ins.length !== 2 || out.dtype !== "bool") return null;
    return { out: "b", expr: CMP[call.op] };
  }
  const e = ARITH[call.op];
  if (!e || out.dtype !== "i64") return null;
  const arity = call.op === "neg" || call.op === "abs" ? 1 : 2;
  if (ins.length !== arity) return null;
  return { out: "l", expr: e };
}

const NAMES = ["a", "b", "c"], VARS = ["x", "y", "z"];

/**
 * Kernel source. Metadata words: [n, shape(R), per input: offset, strides(R), output offset,
 * output strides(R)]. Bool outputs are written four to a word ("packed", contiguous) or merged
 * atomically ("atomic").
 */
function code(
  p: Plan64,
  ins: readonly DType[],
  rank: number,
  mode: "direct" | "packed" | "atomic",
  access: string,
): string {
  const k = ins.length;
  const base = (j: number) => 1 + rank + j * (rank + 1);
  const elem = (j: string, pre: string) => {
    let s = `    var ${pre}r = ${j};\n`;
    for (let t = 0; t < k; t++) s += `    var ${pre}o${t} = prm[${base(t)}];\n`;
    s += `    var ${pre}oo = prm[${base(k)}];\n`;
    for (let d = rank - 1; d >= 0; d--) {
      s += `    { let len = u32(prm[${
        1 + d
      }]); let c = i32(${pre}r % len); ${pre}r = ${pre}r / len;`;
      for (let t = 0; t < k; t++) s += ` ${pre}o${t} += c * prm[${base(t) + 1 + d}];`;
      if (mode !== "packed") s += ` ${pre}oo += c * prm[${base(k) + 1 + d}];`;
      s += ` }\n`;
    }
    const args = ins.map((_, t) => `l_${NAMES[t]}(${pre}o${t})`).join(", ");
    return { s, call: `f_op(${args})` };
  };
  let body: string;
  if (mode === "packed") {
    body = `  let t = ${TID};
  let n = u32(prm[0]);
  if (t * 4u >= n) { return; }
  var word = 0u;
${
      [0, 1, 2, 3].map((q) => {
        const e = elem(`t * 4u + ${q}u`, `e${q}`);
        return `  if (t * 4u + ${q}u < n) {\n${e.s}    word |= select(0u, 1u, ${e.call}) << ${
          q * 8
        }u;\n  }`;
      }).join("\n")
    }
  out[u32(prm[${base(k)}]) / 4u + t] = word;`;
  } else {
    const e = elem("t", "");
    const st = p.out === "l"
      ? `  let w = ${e.call};\n  out[2 * oo] = w.x;\n  out[2 * oo + 1] = w.y;`
      : `  st_out(oo, ${e.call});`;
    body = `  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
${e.s}${st}`;
  }
  const fnArgs = ins.map((_, j) => `${VARS[j]}: vec2<u32>`).join(", ");
  return `
${ins.map((_, j) => decl(NAMES[j], j, access[j])).join("\n")}
${decl("out", k, mode === "atomic" ? "a" : "w")}
${prmDecl(k + 1)}
${I64_MATH}
${ins.map((d, j) => load64(NAMES[j], d)).join("\n")}
${mode === "atomic" ? storeFn("out", "bool", "b") : ""}
fn f_op(${fnArgs}) -> ${p.out === "l" ? "vec2<u32>" : "bool"} {
  return ${p.expr};
}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
${body}
}`;
}

function run64(ctx: GpuContext, p: Plan64, ins: readonly TensorView[], out: TensorView): void {
  const n = out.size;
  if (n === 0) return;
  const k = ins.length;
  // Reading and writing one buffer in one dispatch is not allowed: go through a temporary.
  if (ins.some((t) => t.storage === out.storage)) {
    const tmp = ctx.scratchView(out.shape, out.dtype);
    try {
      run64(ctx, p, ins, tmp);
      run64(ctx, { out: "l", expr: "x" }, [tmp], out);
    } finally {
      tmp.dispose();
    }
    return;
  }
  const ob = elementBytes(out.dtype);
  const whole = out.isContiguous && out.offset === 0 && n * ob >= out.storage.byteLength;
  const bufs = ins.map((t) => ctx.input(stOf(t)));
  const outBuf = ctx.output(stOf(out), whole);
  const access = ctx.access(bufs, [outBuf]);
  bufs.push(outBuf);
  const oo = off(out);
  let mode: "direct" | "packed" | "atomic" = "direct";
  if (ob === 1) {
    const endsStorage = out.offset + n === out.storage.byteLength;
    mode = out.isContiguous && oo % 4 === 0 && (n % 4 === 0 || endsStorage) ? "packed" : "atomic";
  }
  const c = coalesceAxes(out.shape, [...ins.map((t) => bstrides(t, out.shape)), out.strides]);
  const rank = c.shape.length;
  if (rank > MAX_RANK) throw new Error(`webgpu i64: rank ${rank} > ${MAX_RANK} after coalescing`);
  const dts = ins.map((t) => t.dtype);
  const kern = ctx.kernel(
    `i64:${p.expr}:${dts.join(",")}>${out.dtype}:${rank}:${mode}`,
    access,
    () => code(p, dts, rank, mode, access),
  );
  const o = ctx.slot(), M = ctx.mi;
  M[o] = n;
  let w = o + 1;
  for (let d = 0; d < rank; d++) M[w++] = c.shape[d];
  for (let j = 0; j <= k; j++) {
    M[w++] = j < k ? off(ins[j]) : oo;
    for (let d = 0; d < rank; d++) M[w++] = c.strides[j][d];
  }
  const [gx, gy] = grid(mode === "packed" ? Math.ceil(n / 4) : n);
  ctx.run(kern, bufs, gx, gy);
}

/** Whether `call` is an i64 call this file runs (shapes within the kernel's limits). */
function supports64(ctx: GpuContext, call: KernelCall): Plan64 | null {
  const p = plan64(call);
  if (!p) return null;
  const max = ctx.device.limits.maxStorageBufferBindingSize;
  for (const t of [...call.inputs, ...call.outputs]) {
    if (t.ndim > MAX_RANK || t.storage.byteLength > max) return null;
  }
  return p;
}

/** Ops with an i64 kernel here. */
export const INT64_OPS: readonly OpName[] = [
  ...Object.keys(ARITH),
  ...Object.keys(CMP),
  "where",
] as OpName[];

/**
 * The routing hook: `table` with each op of {@link INT64_OPS} answered by the i64 kernel for
 * calls with an i64 operand or output, and by the table's own entry otherwise.
 */
export function withInt64<T extends Record<string, unknown>>(ctx: GpuContext, table: T): T {
  const out: Record<string, unknown> = { ...table };
  for (const op of INT64_OPS) {
    const inner = table[op] as KernelEntry | undefined;
    let last: KernelCall | null = null, lastPlan: Plan64 | null = null;
    const entry: KernelEntry = {
      supports: (call) => {
        last = call;
        lastPlan = supports64(ctx, call);
        if (lastPlan) return true;
        return inner?.supports?.(call) ?? inner !== undefined;
      },
      run: (call) => {
        const p = call === last ? lastPlan : supports64(ctx, call);
        last = null;
        if (p) run64(ctx, p, call.inputs, call.outputs[0]);
        else inner!.run(call);
      },
    };
    out[op] = entry;
  }
  return out as T;
}
