/**
 * Elementwise kernels: every unary and binary op of the scalar elementwise table, `where`,
 * `reluBackward` (relu's gradient in one pass), and `copy` (contiguous(), astype between GPU
 * dtypes, copyInto a view). One generator ("map") makes
 * them all: inputs read through broadcast strides (no materialized broadcast, views without
 * copies), axes coalesced first, index math unrolled per rank, one op expression per domain.
 *
 * Result semantics (documented differences from the scalar reference, which computes in float64
 * and rounds once):
 * - float ops compute in f32 (GPU transcendentals are not correctly rounded: a few ulp);
 * - comparisons and logical ops return bool (one byte per element, packed four to a word);
 * - integer ops (i8..i32, bool) wrap like NumPy; integer `pow` and 64-bit/u32 arithmetic have no
 *   GPU kernel (the registry raises a DeviceError); float→int casts outside the target range are
 *   implementation-defined on GPUs (NumPy's are undefined behaviour too).
 *
 * A fast path handles contiguous f32 operands (and 1-element broadcasts such as `x.mul(0.5)`) four
 * elements per thread with vec4 loads.
 *
 * @module
 */
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import { coalesceAxes } from "../../../core/shape.ts";
import { type DType, elementBytes } from "../../../core/dtype.ts";
import type { BinaryOp, OpName, UnaryAttrs, UnaryOp } from "../../../core/ops/contracts/mod.ts";
import type { GpuContext, Kernel } from "../context.ts";
import { copy4Code, vec4Code } from "./elementwise_vec4.ts";
import {
  bitsOf,
  bstrides,
  decl,
  type Dom,
  grid,
  isFloatDt,
  isIntDt,
  loadable,
  loadFn,
  off,
  PRELUDE,
  prmDecl,
  stOf,
  storable,
  storeFn,
  THREAD,
  TID,
  TY,
  WG,
} from "./wgsl.ts";

/** One op's math: the expression per output domain, over x, y, z and f32 parameters p0..p3. */
interface OpMath {
  /** Expression when the result is computed in f32 (float outputs). */
  f?: string;
  /** Expression when computed in i32 (integer outputs). */
  i?: string;
  /** Comparison: a bool expression over operands loaded in the f or i domain. */
  cmp?: string;
  /** Logical: a bool expression over bool operands. */
  logic?: string;
  /** Float predicate: a bool expression over an f32 operand. */
  pred?: string;
}

/** WGSL of the unary ops (`x`; parameters `p0`.. from attrs). */
export const UNARY: { [N in UnaryOp]?: OpMath } = {
  neg: { f: "-x", i: "-x" },
  abs: { f: "abs(x)", i: "abs(x)" },
  sign: { f: "select(sign(x), x, isnanf(x))", i: "sign(x)" },
  exp: { f: "exp(x)" },
  expm1: { f: "expm1f(x)" },
  log: { f: "log(x)" },
  log1p: { f: "log1pf(x)" },
  log2: { f: "log2(x)" },
  sqrt: { f: "sqrt(x)" },
  rsqrt: { f: "1.0 / sqrt(x)" },
  square: { f: "x * x", i: "x * x" },
  sin: { f: "sin(x)" },
  cos: { f: "cos(x)" },
  tan: { f: "tan(x)" },
  // Through atan2: the GPUs' asin/acos lose accuracy near ±1.
  asin: { f: "atan2(x, sqrt((1.0 - x) * (1.0 + x)))" },
  acos: { f: "atan2(sqrt((1.0 - x) * (1.0 + x)), x)" },
  atan: { f: "atan(x)" },
  sinh: { f: "sinhf(x)" },
  cosh: { f: "0.5 * (exp(x) + exp(-x))" },
  tanh: { f: "tanhf(x)" },
  erf: { f: "erff(x)" },
  sigmoid: { f: "sigmoidf(x)" },
  relu: { f: "select(x, 0.0, ltzf(x))" },
  leakyRelu: { f: "select(x, x * p0, ltzf(x))" },
  elu: { f: "select(x, p0 * expm1f(x), ltzf(x))" },
  selu: { f: "1.0507009873554805 * select(x, 1.6732632423543772 * expm1f(x), ltzf(x))" },
  gelu: { f: "0.5 * x * (1.0 + erff(x * 0.7071067811865476))" },
  silu: { f: "x * sigmoidf(x)" },
  mish: { f: "x * tanhf(softplus1(x))" },
  hardswish: { f: "x * min(max(x + 3.0, 0.0), 6.0) / 6.0" },
  softplus: { f: "select(softplus1(x * p0) / p0, x, x * p0 > p1)" },
  clip: { f: "select(min(max(x, p0), p1), x, isnanf(x))", i: "min(max(x, q0), q1)" },
  round: { f: "round(x)", i: "x" },
  floor: { f: "floor(x)", i: "x" },
  ceil: { f: "ceil(x)", i: "x" },
  isnan: { pred: "isnanf(x)" },
  isinf: { pred: "isinff(x)" },
  isfinite: { pred: "isfinitef(x)" },
  logicalNot: { logic: "!x" },
};

/** gelu with approximate: "tanh". */
const GELU_TANH = "0.5 * x * (1.0 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x)))";

/** WGSL of the binary ops (`x`, `y`). */
export const BINARY: { [N in BinaryOp]?: OpMath } = {
  add: { f: "x + y", i: "x + y" },
  sub: { f: "x - y", i: "x - y" },
  mul: { f: "x * y", i: "x * y" },
  div: { f: "x / y" },
  floorDiv: {
    f: "select(floor(x / y), x / y, y == 0.0)",
    i: "ifloordiv(x, y)",
  },
  mod: {
    f: "fmodsign(x, y)",
    i: "ifloormod(x, y)",
  },
  pow: { f: "powf(x, y)" },
  atan2: { f: "atan2(x, y)" },
  logaddexp: { f: "select(max(x, y) + log1pf(exp(-abs(x - y))), x + 0.6931471805599453, x == y)" },
  minimum: { f: "select(y, x, x < y || isnanf(x))", i: "min(x, y)" },
  maximum: { f: "select(y, x, x > y || isnanf(x))", i: "max(x, y)" },
  eq: { cmp: "x == y" },
  ne: { cmp: "!(x == y)" },
  lt: { cmp: "x < y" },
  le: { cmp: "x <= y" },
  gt: { cmp: "x > y" },
  ge: { cmp: "x >= y" },
  logicalAnd: { logic: "x && y" },
  logicalOr: { logic: "x || y" },
  logicalXor: { logic: "x != y" },
};

/**
 * Division and remainder helpers. Integer ones work on u32 magnitudes: the result of i32 `/` and
 * `%` on negative operands, by zero and of MIN / -1 differs between WGSL's backends (GLSL leaves `%`
 * of negatives undefined; NVIDIA's Vulkan driver and Mesa's GL gave wrong floor remainders), while
 * u32 division of a nonzero divisor is exact everywhere. Division by zero gives 0 like NumPy.
 */
export const DIVMOD = `
fn fmodsign(x: f32, y: f32) -> f32 {
  let m = x - y * trunc(x / y);
  if (m != 0.0 && ((y < 0.0) != (m < 0.0))) { return m + y; }
  return m;
}
fn uabs(x: i32) -> u32 { return select(bitcast<u32>(x), 0u - bitcast<u32>(x), x < 0); }
fn ifloordiv(x: i32, y: i32) -> i32 {
  if (y == 0) { return 0; }
  let ux = uabs(x);
  let uy = uabs(y);
  let q = ux / uy;
  if ((x < 0) == (y < 0)) { return bitcast<i32>(q); }
  return bitcast<i32>(0u - q - select(0u, 1u, q * uy != ux));
}
fn ifloormod(x: i32, y: i32) -> i32 {
  if (y == 0) { return 0; }
  let uy = uabs(y);
  let r = uabs(x) % uy;
  if (r == 0u) { return 0; }
  let m = select(uy - r, r, (x < 0) == (y < 0));
  return select(bitcast<i32>(m), -bitcast<i32>(m), y < 0);
}`;

/** A planned map: load domains, result domain, expression, parameters. */
export interface Plan {
  key: string;
  doms: Dom[];
  outDom: Dom;
  expr: string;
  fparams?: number[];
  iparams?: number[];
  /** Compiled kernels of this plan by variant code (see planKernel). */
  kernels?: { ctx: GpuContext; byCode: Map<number, Kernel> };
}

const clampI32 = (v: number) => Math.max(-2147483648, Math.min(2147483647, v));

/** How to compute `op` for these dtypes, or null where the GPU has no kernel. */
function plan(op: string, ins: readonly DType[], out: DType, attrs: UnaryAttrs): Plan | null {
  const math = UNARY[op as UnaryOp] ?? BINARY[op as BinaryOp];
  if (op === "where") {
    const dom: Dom = isFloatDt(out) ? "f" : isIntDt(out) ? "i" : "r";
    if (dom === "r" && !(ins[1] === out && ins[2] === out && elementBytes(out) <= 4)) return null;
    if (!ins.slice(1).every((d) => loadable(d, dom)) || !loadable(ins[0], "b")) return null;
    return { key: `where:${dom}`, doms: ["b", dom, dom], outDom: dom, expr: "select(z, y, x)" };
  }
  if (op === "reluBackward") {
    // (x or relu's output, g) → x > 0 ? g : g·slope (0 without a slope): one pass.
    if (!isFloatDt(out) || !ins.every(isFloatDt)) return null;
    const slope = (attrs as { negativeSlope?: number }).negativeSlope;
    return {
      key: `reluBackward:${slope === undefined ? "0" : "s"}`,
      doms: ["f", "f"],
      outDom: "f",
      expr: slope === undefined ? "select(0.0, y, x > 0.0)" : "select(y * p0, y, x > 0.0)",
      fparams: slope === undefined ? [] : [slope],
    };
  }
  if (op === "copy") {
    const [src] = ins;
    if (src === out) {
      const dom: Dom = elementBytes(out) === 8 ? "r2" : "r";
      return { key: `copy:${dom}`, doms: [dom], outDom: dom, expr: "x" };
    }
    const dom: Dom = isFloatDt(out) ? "f" : out === "bool" ? "b" : "i";
    if (!loadable(src, dom) || !storable(out, dom) || out === "f64" || src === "f64") return null;
    return { key: `copy:${dom}`, doms: [dom], outDom: dom, expr: "x" };
  }
  if (!math) return null;
  if (!ins.every((d) => isFloatDt(d) || isIntDt(d))) return null;
  const allInt = ins.every(isIntDt);
  if (math.cmp) {
    if (out !== "bool") return null;
    const dom: Dom = allInt ? "i" : "f";
    return { key: `${op}:${dom}`, doms: ins.map(() => dom), outDom: "b", expr: math.cmp };
  }
  if (math.logic) {
    return { key: op, doms: ins.map(() => "b"), outDom: "b", expr: math.logic };
  }
  if (math.pred) return { key: op, doms: ["f"], outDom: "b", expr: math.pred };
  if (isFloatDt(out)) {
    if (!math.f) return null;
    const fparams: number[] = [];
    let expr = math.f, key = op;
    if (op === "leakyRelu") fparams.push(attrs.negativeSlope ?? 0.01);
    if (op === "elu") fparams.push(attrs.alpha ?? 1);
    if (op === "softplus") fparams.push(attrs.beta ?? 1, attrs.threshold ?? 20);
    if (op === "clip") fparams.push(attrs.min ?? -Infinity, attrs.max ?? Infinity);
    if (op === "gelu" && attrs.approximate === "tanh") {
      expr = GELU_TANH;
      key = "gelu:tanh";
    }
    return { key: `${key}:f`, doms: ins.map(() => "f"), outDom: "f", expr, fparams };
  }
  if (isIntDt(out) && allInt && math.i) {
    const iparams: number[] = [];
    if (op === "clip") {
      iparams.push(
        clampI32(Math.ceil(attrs.min ?? -Infinity)),
        clampI32(Math.floor(attrs.max ?? Infinity)),
      );
    }
    return { key: `${op}:i`, doms: ins.map(() => "i"), outDom: "i", expr: math.i, iparams };
  }
  return null;
}

/** Layout of the output writes. */
type Mode = "direct" | "packed" | "atomic";

/** Operand buffer names and expression variables, by operand. */
export const NAMES = ["a", "b", "c"];
/** Expression variables of the operands. */
export const VARS = ["x", "y", "z"];

/**
 * The map kernel source. Metadata words: [n, p0..p3 (f32 bits or i32), shape(R), per input:
 * offset, strides(R), output offset, output strides(R)].
 */
function mapCode(
  p: Plan,
  ins: readonly DType[],
  out: DType,
  rank: number,
  mode: Mode,
  access: string,
  param: readonly boolean[],
): string {
  const k = ins.length;
  // Bindings of the buffer operands (a parameter operand has none), then the output.
  const binding: number[] = [];
  let nb = 0;
  for (let j = 0; j < k; j++) binding.push(param[j] ? -1 : nb++);
  const SH = 5, base = (j: number) => SH + rank + j * (rank + 1);
  const params = [0, 1, 2, 3].map((j) =>
    `  let p${j} = bitcast<f32>(prm[${1 + j}]);\n  let q${j} = prm[${1 + j}];`
  ).join("\n");
  const fnArgs = p.doms.map((d, j) => `${VARS[j]}: ${TY[d]}`).join(", ");
  // A parameter operand is a 1-element private array filled from its metadata word, read by the
  // same loader as a buffer (so every dtype converts exactly as it would from memory).
  const lds = ins.map((d, j) =>
    (param[j] ? `var<private> ${NAMES[j]}: array<u32, 1>;\n` : "") + loadFn(NAMES[j], d, p.doms[j])
  ).join("\n");
  const fill = ins.map((_, j) =>
    param[j] ? `  ${NAMES[j]}[0] = bitcast<u32>(prm[${base(j)}]);\n` : ""
  ).join("");
  const elem = (j: string, pre: string) => {
    // Offsets of element j (u32) of every operand, by unrolled decomposition over the shape.
    let s = `    var ${pre}r = ${j};\n`;
    for (let t = 0; t < k; t++) if (!param[t]) s += `    var ${pre}o${t} = prm[${base(t)}];\n`;
    s += `    var ${pre}oo = prm[${base(k)}];\n`;
    for (let d = rank - 1; d >= 0; d--) {
      s += `    { let len = u32(prm[${
        SH + d
      }]); let c = i32(${pre}r % len); ${pre}r = ${pre}r / len;`;
      for (let t = 0; t < k; t++) {
        if (!param[t]) s += ` ${pre}o${t} += c * prm[${base(t) + 1 + d}];`;
      }
      if (mode !== "packed") s += ` ${pre}oo += c * prm[${base(k) + 1 + d}];`;
      s += ` }\n`;
    }
    const args = ins.map((_, t) => `ld_${NAMES[t]}(${param[t] ? "0" : `${pre}o${t}`})`).join(", ");
    return { s, call: `f_op(${args}, p0, p1, p2, p3, q0, q1)` };
  };
  let body: string;
  if (mode === "packed") {
    const per = 4 / elementBytes(out), bits = elementBytes(out) * 8;
    body = `  let t = ${TID};
  let n = u32(prm[0]);
  if (t * ${per}u >= n) { return; }
  var word = 0u;
${
      Array.from({ length: per }, (_, q) => {
        const e = elem(`t * ${per}u + ${q}u`, `e${q}`);
        return `  if (t * ${per}u + ${q}u < n) {\n${e.s}    word |= ${
          bitsOf(out, p.outDom, e.call)
        } << ${q * bits}u;\n  }`;
      }).join("\n")
    }
  out[u32(prm[${base(k)}]) / ${per}u + t] = word;`;
  } else {
    const e = elem("t", "");
    body = `  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
${e.s}  st_out(oo, ${e.call});`;
  }
  return `
${ins.map((_, j) => param[j] ? "" : decl(NAMES[j], binding[j], access[binding[j]])).join("\n")}
${decl("out", nb, mode === "atomic" ? "a" : "w")}
${prmDecl(nb + 1)}
${PRELUDE}
${DIVMOD}
${lds}
${mode === "packed" ? "" : storeFn("out", out, p.outDom)}
fn f_op(${fnArgs}, p0: f32, p1: f32, p2: f32, p3: f32, q0: i32, q1: i32) -> ${TY[p.outDom]} {
  return ${p.expr};
}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
${params}
${fill}${body}
}`;
}

const MAX_RANK = 10;

/** Whether the GPU can run this map call. */
function mapSupports(ctx: GpuContext, call: KernelCall): Plan | null {
  const out = call.outputs[0];
  if (!out) return null;
  const ins = call.inputs;
  const p = cachedPlan(call.op, ins, out.dtype, call.attrs as UnaryAttrs);
  if (!p) return null;
  const max = ctx.maxBinding;
  if (out.shape.length > MAX_RANK || out.storage.byteLength > max) return null;
  for (let j = 0; j < ins.length; j++) {
    if (ins[j].shape.length > MAX_RANK || ins[j].storage.byteLength > max) return null;
  }
  return p;
}

/** Ops whose plan depends on attributes (not cached). */
const ATTR_OPS = new Set(["leakyRelu", "elu", "softplus", "clip", "gelu", "reluBackward"]);
/** Memoized plans by op, then by operand and output dtypes (no key string per call). */
const plans = new Map<string, { ins: DType[]; out: DType; plan: Plan | null }[]>();

/** {@link plan}, memoized by op and dtypes for ops without attributes (the per-op fast path). */
function cachedPlan(
  op: string,
  ins: readonly { readonly dtype: DType }[],
  out: DType,
  attrs: UnaryAttrs,
): Plan | null {
  if (ATTR_OPS.has(op)) return plan(op, ins.map((t) => t.dtype), out, attrs);
  let list = plans.get(op);
  if (!list) plans.set(op, list = []);
  next: for (let e = 0; e < list.length; e++) {
    const c = list[e];
    if (c.out !== out || c.ins.length !== ins.length) continue;
    for (let j = 0; j < ins.length; j++) if (c.ins[j] !== ins[j].dtype) continue next;
    return c.plan;
  }
  const dts = ins.map((t) => t.dtype);
  const p = plan(op, dts, out, attrs);
  list.push({ ins: dts, out, plan: p });
  return p;
}

/**
 * A kernel of plan `p` by a small numeric code of its variant, cached on the plan (a memoized plan
 * is reused by every call of its op and dtypes: no key string per dispatch), else `make()`.
 */
function planKernel(ctx: GpuContext, p: Plan, code: number, make: () => Kernel): Kernel {
  let c = p.kernels;
  if (!c || c.ctx !== ctx) c = p.kernels = { ctx, byCode: new Map() };
  let k = c.byCode.get(code);
  if (!k) c.byCode.set(code, k = make());
  return k;
}

/**
 * The raw bits (low bits of a u32) of a 1-element operand whose storage is still on the host (a
 * weak scalar such as the 1 of `x.add(1)`: see GpuStorage), or null when it must be bound.
 */
function paramBits(t: TensorView): number | null {
  const st = stOf(t);
  if (st.placed || t.size !== 1) return null;
  const eb = elementBytes(t.dtype);
  if (eb > 4) return null;
  const h = st.host;
  if (!h) return 0; // never written: zeros
  const at = t.offset * eb; // elements never straddle words
  const w = h[at >> 2] >>> ((at & 3) * 8);
  return (eb === 4 ? w : w & (eb === 2 ? 0xffff : 0xff)) | 0;
}

/**
 * Run a planned map: `ins` broadcast to `out`'s shape, written into `out` (any strides for 4- and
 * 8-byte outputs; narrower outputs contiguous or through atomics). A 1-element operand still on
 * the host is passed in the metadata instead of a buffer (no upload, no binding).
 */
export function runMap(
  ctx: GpuContext,
  p: Plan,
  ins: readonly TensorView[],
  out: TensorView,
): void {
  const n = out.size;
  if (n === 0) return;
  const k = ins.length;
  const outDt = out.dtype;
  const outBytes = elementBytes(outDt);
  const outSt = stOf(out);
  // Reading and writing one buffer in one dispatch is not allowed: go through a temporary.
  for (let j = 0; j < k; j++) {
    if (ins[j].storage === outSt) {
      const tmp = ctx.scratchView(out.shape, outDt);
      try {
        runMap(ctx, p, ins, tmp);
        runMap(ctx, copyPlan(outDt, outDt)!, [tmp], out);
      } finally {
        tmp.dispose();
      }
      return;
    }
  }
  const outContig = out.isContiguous;
  const whole = outContig && out.offset === 0 && n * outBytes >= outSt.byteLength;
  const bits: (number | null)[] = [];
  const bufs: GPUBuffer[] = [];
  let mask = 0;
  for (let j = 0; j < k; j++) {
    const b = paramBits(ins[j]);
    bits.push(b);
    if (b === null) bufs.push(ctx.input(stOf(ins[j])));
    else {
      mask |= 1 << j;
      ctx.paramOperands++;
    }
  }
  const nIn = bufs.length;
  const outBuf = ctx.output(outSt, whole);
  let clash = 0;
  for (let j = 0; j < nIn; j++) if (bufs[j] === outBuf) clash = 1;
  bufs.push(outBuf);
  const access = ACCESS[clash][nIn];
  const oo = off(out);
  const f = p.fparams ?? [], q = p.iparams ?? [];
  // vec4 fast path.
  if (
    p.outDom === "f" && outDt === "f32" && outContig && oo % 4 === 0 && n % 4 === 0 &&
    q.length === 0
  ) {
    // Operand kinds as base-3 digits (v, s, p), -1 once one does not fit.
    let code = 0;
    for (let j = k - 1; j >= 0 && code >= 0; j--) {
      const t = ins[j];
      let kd = -1;
      if (t.dtype === "f32") {
        if (bits[j] !== null) kd = 2;
        else if (t.size === 1) kd = 1;
        else if (t.isContiguous && off(t) % 4 === 0 && sameShape(t.shape, out.shape)) kd = 0;
      }
      code = kd < 0 ? -1 : code * 3 + kd;
    }
    if (code >= 0) {
      const kern = planKernel(ctx, p, code * 2 + clash, () => {
        const ks: ("v" | "s" | "p")[] = [];
        for (let j = 0, c = code; j < k; j++, c = Math.floor(c / 3)) ks.push(KINDS[c % 3]);
        return ctx.kernel(`v4:${p.key}:${ks.join("")}`, access, () => vec4Code(p, ks, access));
      });
      const o = ctx.slot(), M = ctx.mi, F = ctx.mf;
      M[o] = n / 4;
      for (let j = 0; j < 4; j++) F[o + 1 + j] = f[j] ?? 0;
      for (let j = 0, c = code; j < k; j++, c = Math.floor(c / 3)) {
        const kd = c % 3;
        M[o + 5 + j] = kd === 0 ? off(ins[j]) / 4 : kd === 1 ? off(ins[j]) : bits[j]!;
      }
      M[o + 5 + k] = oo / 4;
      const [gx, gy] = grid(n / 4);
      ctx.run(kern, bufs, gx, gy);
      return;
    }
  }
  // Same-dtype copy of contiguous 4-byte elements: vec4 words.
  if (
    p.outDom === "r" && outBytes === 4 && outContig && oo % 4 === 0 && n % 4 === 0 &&
    nIn === 1 && ins[0].isContiguous && off(ins[0]) % 4 === 0 && ins[0].size === n
  ) {
    const kern = ctx.kernel("copy4", access, () => copy4Code(access));
    const o = ctx.slot(), M = ctx.mi;
    M[o] = n / 4;
    M[o + 1] = off(ins[0]) / 4;
    M[o + 2] = oo / 4;
    const [gx, gy] = grid(n / 4);
    ctx.run(kern, bufs, gx, gy);
    return;
  }
  let mode: Mode = "direct";
  if (outBytes < 4) {
    const per = 4 / outBytes;
    const endsStorage = out.offset + n === outSt.byteLength / outBytes;
    mode = outContig && oo % per === 0 && (n % per === 0 || endsStorage) ? "packed" : "atomic";
  }
  const c = coalesceAxes(out.shape, [...ins.map((t) => bstrides(t, out.shape)), out.strides]);
  const rank = c.shape.length;
  const kern = planKernel(
    ctx,
    p,
    1000 + (((rank * 3 + MODES.indexOf(mode)) * 8 + mask) * 2 + clash),
    () => {
      const dts = ins.map((t) => t.dtype);
      const pm = bits.map((b) => b !== null);
      const ms = pm.map((b) => (b ? "p" : "b")).join("");
      return ctx.kernel(
        `map:${p.key}:${dts.join(",")}>${outDt}:${rank}:${mode}:${ms}`,
        access,
        () => mapCode(p, dts, outDt, rank, mode, access, pm),
      );
    },
  );
  const o = ctx.slot(), M = ctx.mi, F = ctx.mf;
  M[o] = n;
  for (let j = 0; j < 4; j++) {
    if (q.length) M[o + 1 + j] = q[j] ?? 0;
    else F[o + 1 + j] = f[j] ?? 0;
  }
  let w = o + 5;
  for (let d = 0; d < rank; d++) M[w++] = c.shape[d];
  for (let j = 0; j <= k; j++) {
    // A parameter operand's word holds its bits (its strides are 0: broadcast).
    M[w++] = j < k ? (bits[j] ?? off(ins[j])) : oo;
    for (let d = 0; d < rank; d++) M[w++] = c.strides[j][d];
  }
  const threads = mode === "packed" ? Math.ceil(n / (4 / outBytes)) : n;
  const [gx, gy] = grid(threads);
  ctx.run(kern, bufs, gx, gy);
}

const KINDS = ["v", "s", "p"] as const;
const MODES: Mode[] = ["direct", "packed", "atomic"];

/** Binding access strings by [clash][buffer inputs]: see GpuContext.access. */
const ACCESS = [0, 1].map((clash) => [0, 1, 2, 3].map((m) => (clash ? "w" : "r").repeat(m) + "w"));

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The elementwise kernels (unary, binary, where, copy) bound to a context. */
export function elementwiseKernels(ctx: GpuContext): OpKernelTable {
  // The registry asks `supports` right before `run`: keep that call's plan.
  let lastCall: KernelCall | null = null;
  let lastPlan: Plan | null = null;
  const entry: KernelEntry = {
    supports: (call) => {
      lastCall = call;
      lastPlan = mapSupports(ctx, call);
      return lastPlan !== null;
    },
    run: (call) => {
      const p = call === lastCall ? lastPlan : mapSupports(ctx, call);
      lastCall = null;
      runMap(ctx, p!, call.inputs, call.outputs[0]);
    },
  };
  const k: OpKernelTable = {};
  const ops = [
    ...Object.keys(UNARY),
    ...Object.keys(BINARY),
    "where",
    "copy",
    "reluBackward",
  ] as OpName[];
  for (const op of ops) (k as Record<OpName, KernelEntry>)[op] = entry;
  return k;
}

/** A copy plan between two dtypes (null when the GPU cannot convert them). */
export function copyPlan(src: DType, dst: DType): Plan | null {
  return cachedPlan("copy", [{ dtype: src }], dst, {});
}
