/**
 * WGSL code generation shared by the kernels: how each dtype is stored in a GPU buffer, read and
 * written; launch geometry; axis coalescing; the math helpers.
 *
 * Storage layout is the host layout byte for byte (so uploads and readbacks are plain copies):
 * every buffer is bound as `array<u32>` and elements are extracted from words. f32/i32/u32 are one
 * word (bitcast), f16/bf16/i16/u16 half a word (f16 through `unpack2x16float`/`pack2x16float`, so
 * f16 works without the `shader-f16` feature), i8/u8/bool a byte, i64 two words (low, high:
 * little-endian, like `BigInt64Array`), f64 two words (moved raw only: WGSL has no f64).
 *
 * Values are computed in one of these domains:
 * - `f`: f32 (every float dtype is computed in f32 and rounded once on store);
 * - `i`: i32 (integer dtypes up to 32 bits; results wrap to the output's width on store, like
 *   NumPy's integer loops); i64 and u32 read in this domain take their low 32 bits;
 * - `b`: bool (truthiness: anything but 0, NaN included);
 * - `r`: raw bits of an element up to 4 bytes (u32), and `r2` of an 8-byte one (vec2<u32>), for
 *   exact same-dtype copies.
 *
 * Stores of elements narrower than a word either write whole words from one thread (`packed`,
 * for contiguous outputs: each thread computes the 2 or 4 elements of its word) or merge into the
 * word atomically (`atomic`, for strided outputs such as a copy into a view).
 *
 * @module
 */
import type { TensorView } from "../../../core/backend/plugin.ts";
import type { DType } from "../../../core/dtype.ts";
import { elementBytes } from "../../../core/dtype.ts";
import type { GpuStorage } from "../context.ts";

/** Threads per workgroup of the 1-D kernels. */
export const WG = 256;

/** Computation domain of a value: f32, i32, bool, raw bits (≤ 4 bytes), raw 8-byte bits. */
export type Dom = "f" | "i" | "b" | "r" | "r2";

/** WGSL type of a domain. */
export const TY: Record<Dom, string> = {
  f: "f32",
  i: "i32",
  b: "bool",
  r: "u32",
  r2: "vec2<u32>",
};

/** Dtypes the GPU computes on (f/i/b domains). */
export const COMPUTE: ReadonlySet<DType> = new Set<DType>([
  "f32",
  "f16",
  "bf16",
  "i8",
  "u8",
  "i16",
  "u16",
  "i32",
  "bool",
]);
/** Dtypes that only convert (copy, astype) and serve as indices/arg outputs. */
export const CONVERT: ReadonlySet<DType> = new Set<DType>([...COMPUTE, "u32", "i64"]);

/** Float dtypes with GPU arithmetic. */
export const isFloatDt = (d: DType): boolean => d === "f32" || d === "f16" || d === "bf16";
/** Integer-like dtypes computed in i32. */
export const isIntDt = (d: DType): boolean =>
  d === "i8" || d === "u8" || d === "i16" || d === "u16" || d === "i32" || d === "bool";

/** The GPU storage of a tensor. */
export const stOf = (t: TensorView): GpuStorage => t.storage as GpuStorage;

/** Element offset of a tensor's first element in its buffer (storage base plus view offset). */
export const off = (t: TensorView): number =>
  (t.storage as GpuStorage).base / elementBytes(t.dtype) + t.offset;

/** Workgroup counts for `n` threads of `per`, split over x/y to stay under 65535 per dimension. */
export function grid(n: number, per = WG): [number, number] {
  const groups = Math.max(1, Math.ceil(n / per));
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL for the linear thread index of a 1-D launch made by {@link grid}. */
export const THREAD =
  `@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u`;
/** WGSL expression of the linear thread index (u32). */
export const TID = `(gid.x + gid.y * nw.x * ${WG}u)`;

/** Strides of `t` read as if broadcast to `shape` (0 on broadcast axes). */
export function bstrides(t: TensorView, shape: readonly number[]): number[] {
  const off = shape.length - t.ndim;
  return shape.map((d, i) => {
    const j = i - off;
    return j < 0 || (t.shape[j] === 1 && d !== 1) ? 0 : t.strides[j];
  });
}

/** `var` declaration of a buffer at `binding`: read-only, read-write or atomic words. */
export function decl(name: string, binding: number, access: string): string {
  const ty = access === "a" ? "array<atomic<u32>>" : "array<u32>";
  return `@group(0) @binding(${binding}) var<storage, ${
    access === "r" ? "read" : "read_write"
  }> ${name}: ${ty};`;
}

/** The metadata binding (i32 words) after `arity` buffers. */
export const prmDecl = (arity: number): string =>
  `@group(0) @binding(${arity}) var<storage, read> prm: array<i32, ${64}>;`;

/** Native value of element `i` (an i32 expression) of buffer `b`: f32, i32, u32, or i64 parts. */
function native(b: string, d: DType): { ty: "f" | "i" | "u" | "l" | "d"; code: string } {
  const w = (sh: number) => `${b}[u32(i) >> ${sh}u]`;
  switch (d) {
    case "f32":
      return { ty: "f", code: `bitcast<f32>(${b}[i])` };
    case "f16":
      return { ty: "f", code: `unpack2x16float(${w(1)})[u32(i) & 1u]` };
    case "bf16":
      return {
        ty: "f",
        code: `bitcast<f32>(((${w(1)} >> ((u32(i) & 1u) * 16u)) & 0xffffu) << 16u)`,
      };
    case "i32":
      return { ty: "i", code: `bitcast<i32>(${b}[i])` };
    case "u32":
      return { ty: "u", code: `${b}[i]` };
    case "i8":
      return { ty: "i", code: `(bitcast<i32>(${w(2)} << (24u - (u32(i) & 3u) * 8u)) >> 24u)` };
    case "u8":
    case "bool":
      return { ty: "i", code: `i32((${w(2)} >> ((u32(i) & 3u) * 8u)) & 0xffu)` };
    case "i16":
      return { ty: "i", code: `(bitcast<i32>(${w(1)} << (16u - (u32(i) & 1u) * 16u)) >> 16u)` };
    case "u16":
      return { ty: "i", code: `i32((${w(1)} >> ((u32(i) & 1u) * 16u)) & 0xffffu)` };
    case "i64":
      return { ty: "l", code: `vec2<u32>(${b}[2 * i], ${b}[2 * i + 1])` };
    case "f64":
      return { ty: "d", code: `vec2<u32>(${b}[2 * i], ${b}[2 * i + 1])` };
  }
}

/** Raw bits of element `i` of buffer `b` (u32 for ≤ 4 bytes, vec2<u32> for 8). */
function rawLoad(b: string, d: DType): string {
  const bytes = elementBytes(d);
  if (bytes === 8) return `vec2<u32>(${b}[2 * i], ${b}[2 * i + 1])`;
  if (bytes === 4) return `${b}[i]`;
  if (bytes === 2) return `((${b}[u32(i) >> 1u] >> ((u32(i) & 1u) * 16u)) & 0xffffu)`;
  return `((${b}[u32(i) >> 2u] >> ((u32(i) & 3u) * 8u)) & 0xffu)`;
}

/** Whether a dtype can be read in a domain. */
export function loadable(d: DType, dom: Dom): boolean {
  if (dom === "r") return elementBytes(d) <= 4;
  if (dom === "r2") return elementBytes(d) === 8;
  return CONVERT.has(d);
}

/** `fn ld_<b>(i: i32) -> T`: element `i` of buffer `b` holding `d`, in domain `dom`. */
export function loadFn(b: string, d: DType, dom: Dom): string {
  let body: string;
  if (dom === "r" || dom === "r2") body = rawLoad(b, d);
  else {
    const n = native(b, d);
    const v = n.code;
    if (n.ty === "f") body = dom === "f" ? v : dom === "i" ? `i32(${v})` : `!(${v} == 0.0)`;
    else if (n.ty === "i") body = dom === "f" ? `f32(${v})` : dom === "i" ? v : `${v} != 0`;
    else if (n.ty === "u") {
      body = dom === "f" ? `f32(${v})` : dom === "i" ? `bitcast<i32>(${v})` : `${v} != 0u`;
    } else {
      // i64: low word for the integer domain (wraps like NumPy's narrowing casts).
      return `fn ld_${b}(i: i32) -> ${TY[dom]} { let v = ${v}; return ${
        dom === "f" ? "i64tof(v)" : dom === "i" ? "bitcast<i32>(v.x)" : "(v.x | v.y) != 0u"
      }; }`;
    }
  }
  return `fn ld_${b}(i: i32) -> ${TY[dom]} { return ${body}; }`;
}

/** WGSL expression: the bits (low bits of a u32) of value `v` in `dom` stored as `d` (≤ 4 bytes). */
export function bitsOf(d: DType, dom: Dom, v: string): string {
  if (dom === "r") {
    const bytes = elementBytes(d);
    return bytes === 4 ? v : `(${v} & ${bytes === 2 ? "0xffffu" : "0xffu"})`;
  }
  const asF = dom === "f" ? v : dom === "i" ? `f32(${v})` : `select(0.0, 1.0, ${v})`;
  const asI = dom === "i" ? v : dom === "f" ? `i32(${v})` : `select(0, 1, ${v})`;
  const asB = dom === "b" ? v : dom === "f" ? `!(${v} == 0.0)` : `${v} != 0`;
  switch (d) {
    case "f32":
      return `bitcast<u32>(${asF})`;
    case "f16":
      return `(pack2x16float(vec2<f32>(${asF}, 0.0)) & 0xffffu)`;
    case "bf16":
      return `bf16bits(${asF})`;
    case "i32":
      return `bitcast<u32>(${asI})`;
    case "u32":
      return dom === "f" ? `f2u32(${v})` : `bitcast<u32>(${asI})`;
    case "i8":
    case "u8":
      return `(bitcast<u32>(${asI}) & 0xffu)`;
    case "i16":
    case "u16":
      return `(bitcast<u32>(${asI}) & 0xffffu)`;
    case "bool":
      return `select(0u, 1u, ${asB})`;
    default:
      throw new Error(`bitsOf: ${d}`);
  }
}

/** WGSL expression: the two words of value `v` in `dom` stored as an 8-byte `d`. */
export function bits64(d: DType, dom: Dom, v: string): string {
  if (dom === "r2") return v;
  if (d !== "i64") throw new Error(`bits64: ${d}`);
  if (dom === "f") return `f2i64(${v})`;
  if (dom === "b") return `vec2<u32>(select(0u, 1u, ${v}), 0u)`;
  return `vec2<u32>(bitcast<u32>(${v}), select(0u, 0xffffffffu, ${v} < 0))`;
}

/** Whether a value of `dom` can be stored as `d`. */
export function storable(d: DType, dom: Dom): boolean {
  if (dom === "r") return elementBytes(d) <= 4;
  if (dom === "r2") return elementBytes(d) === 8;
  return CONVERT.has(d);
}

/**
 * `fn st_<b>(i: i32, v: T)`: store element `i` of a 4- or 8-byte `d` (plain writes), or of a
 * narrower one through atomics on buffer `b` (declared atomic).
 */
export function storeFn(b: string, d: DType, dom: Dom): string {
  const bytes = elementBytes(d);
  const head = `fn st_${b}(i: i32, v: ${TY[dom]})`;
  if (bytes === 8) {
    return `${head} { let w = ${bits64(d, dom, "v")}; ${b}[2 * i] = w.x; ${b}[2 * i + 1] = w.y; }`;
  }
  if (bytes === 4) return `${head} { ${b}[i] = ${bitsOf(d, dom, "v")}; }`;
  const per = 4 / bytes, mask = bytes === 2 ? "0xffffu" : "0xffu";
  return `${head} {
  let w = u32(i) / ${per}u;
  let sh = (u32(i) % ${per}u) * ${bytes * 8}u;
  atomicAnd(&${b}[w], ~(${mask} << sh));
  atomicOr(&${b}[w], ${bitsOf(d, dom, "v")} << sh);
}`;
}

/** Math helpers used by the kernels (all of them f32). */
export const PRELUDE = `
// x < 0 decided on the bits: drivers compile float compares and select under fast-math rules
// that may assume no NaN (NVIDIA's Vulkan driver turned relu's select into max(x, 0)).
fn ltzf(x: f32) -> bool { let b = bitcast<u32>(x); return b > 0x80000000u && b <= 0xff800000u; }
fn isnanf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinff(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn isfinitef(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u; }
fn nanf() -> f32 { return bitcast<f32>(0x7fc00000u); }
fn inff() -> f32 { return bitcast<f32>(0x7f800000u); }
fn bf16bits(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  if (isnanf(v)) { return (b >> 16u) | 0x40u; }
  return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}
fn f2i64(v: f32) -> vec2<u32> {
  if (abs(v) < 2147483648.0) {
    let i = i32(v);
    return vec2<u32>(bitcast<u32>(i), select(0u, 0xffffffffu, i < 0));
  }
  if (!isfinitef(v)) { return vec2<u32>(0u, 0x80000000u); }
  let hi = floor(v / 4294967296.0);
  return vec2<u32>(u32(v - hi * 4294967296.0), bitcast<u32>(i32(hi)));
}
// i64 (low, high words) → f32 rounded once to nearest-even, as NumPy's cast (WGSL leaves the
// rounding of an inexact integer → float conversion to the implementation, so it is done here).
fn shr64(lo: u32, hi: u32, k: u32) -> u32 {
  if (k == 0u) { return lo; }
  if (k < 32u) { return (lo >> k) | (hi << (32u - k)); }
  return hi >> (k - 32u);
}
fn lowbits64(lo: u32, hi: u32, k: u32) -> bool {
  if (k == 0u) { return false; }
  if (k < 32u) { return (lo & ((1u << k) - 1u)) != 0u; }
  if (k == 32u) { return lo != 0u; }
  return lo != 0u || (hi & ((1u << (k - 32u)) - 1u)) != 0u;
}
fn i64tof(v: vec2<u32>) -> f32 {
  let neg = (v.y >> 31u) == 1u;
  var lo = v.x;
  var hi = v.y;
  if (neg) { lo = ~v.x + 1u; hi = ~v.y + select(0u, 1u, lo == 0u); }
  if (hi == 0u && lo < 16777216u) { return select(f32(lo), -f32(lo), neg); }
  var p = 0u;
  if (hi != 0u) { p = 32u + firstLeadingBit(hi); } else { p = firstLeadingBit(lo); }
  let k = p - 24u; // bits below the round bit
  let m25 = shr64(lo, hi, k); // 24 significant bits and the round bit
  var m = m25 >> 1u;
  var e = p;
  if ((m25 & 1u) == 1u && (lowbits64(lo, hi, k) || (m & 1u) == 1u)) { m = m + 1u; }
  if (m == 16777216u) { m = 8388608u; e = e + 1u; }
  let bits = ((e + 127u) << 23u) | (m & 0x7fffffu);
  return bitcast<f32>(bits | select(0u, 0x80000000u, neg));
}
fn f2u32(v: f32) -> u32 {
  if (v >= 2147483648.0) { return u32(v); }
  return bitcast<u32>(i32(v));
}
// expm1 and log1p by Kahan's trick: accurate near 0 from a correctly paired exp/log.
fn expm1f(x: f32) -> f32 {
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um = u - 1.0;
  if (um == -1.0) { return -1.0; }
  if (isinff(u)) { return u; }
  return um * x / log(u);
}
fn log1pf(x: f32) -> f32 {
  // Small |x| by its series (relative error < x³/4): Mesa's GL driver lost log1p(9e-14) to 0
  // through the u == 1 test below, which fast-math compilers may rewrite.
  if (abs(x) < 1e-3) { return x * (1.0 - x * (0.5 - x * 0.33333334)); }
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (isinff(u)) { return u; }
  return log(u) * x / (u - 1.0);
}
fn tanhf(x: f32) -> f32 {
  let a = abs(x);
  if (a > 9.0) { return sign(x); }
  let t = expm1f(2.0 * a);
  return select(-1.0, 1.0, x >= 0.0) * t / (t + 2.0);
}
fn sinhf(x: f32) -> f32 {
  let e = expm1f(abs(x));
  return select(-0.5, 0.5, x >= 0.0) * (e + e / (e + 1.0));
}
fn sigmoidf(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn softplus1(x: f32) -> f32 { return max(x, 0.0) + log1pf(exp(-abs(x))); }
// erf with max error ~1 ulp (N. Juffa's single-precision minimax polynomials).
fn erff(a: f32) -> f32 {
  let t = abs(a);
  let s = a * a;
  if (t > 0.927734375) {
    var r = fma(-1.72853470e-5, t, 3.83197126e-4);
    let u = fma(-3.88396438e-3, t, 2.42546219e-2);
    r = fma(r, s, u);
    r = fma(r, t, -1.06777877e-1);
    r = fma(r, t, -6.34846687e-1);
    r = fma(r, t, -1.28717512e-1);
    r = fma(r, t, -t);
    r = 1.0 - exp(r);
    return select(-r, r, a >= 0.0);
  }
  var r = -5.96761703e-4;
  r = fma(r, s, 4.99119423e-3);
  r = fma(r, s, -2.67681349e-2);
  r = fma(r, s, 1.12819925e-1);
  r = fma(r, s, -3.76125336e-1);
  r = fma(r, s, 1.28379166e-1);
  return fma(r, a, a);
}
// C's pow: negative bases with integer exponents, pow(x, 0) = pow(1, y) = 1, pow(-1, ±inf) = 1.
fn powf(x: f32, y: f32) -> f32 {
  if (x == 1.0 || y == 0.0) { return 1.0; }
  if (isnanf(x) || isnanf(y)) { return nanf(); }
  let ax = abs(x);
  if (ax == 1.0 && isinff(y)) { return 1.0; }
  var r = pow(ax, y);
  if (ax == 0.0) { r = select(0.0, inff(), y < 0.0); }
  if (ax == 0.0 && y < 0.0 && bitcast<u32>(x) == 0x80000000u && abs(y) < 16777216.0 && fract(y * 0.5) != 0.0) { r = -inff(); }
  if (x < 0.0) {
    if (isfinitef(y) && floor(y) != y) { return nanf(); }
    if (abs(y) < 16777216.0 && fract(y * 0.5) != 0.0) { r = -r; }
  }
  return r;
}
`;
