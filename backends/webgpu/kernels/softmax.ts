/**
 * softmax and logSoftmax on the GPU along any axis. Contiguous f32 rows of up to 8192 elements
 * (a multiple of 4) stay in registers (vec4 loads, one read and one write of memory); other
 * layouts use an online max/sum pass and a second pass that writes.
 *
 * @module
 */
import { coalesceAxes } from "../../../core/shape.ts";
import { viaF32 } from "./f32_output.ts";
import type { KernelCall, KernelEntry } from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import { decl, grid, isFloatDt, loadFn, off, PRELUDE, prmDecl, stOf, WG } from "./wgsl.ts";

/**
 * The entry point of a kernel that gives each workgroup one line (the metadata layout softmax's
 * line kernels and the scans share): `line`, its length `n`, and its input and output bases
 * `ib`/`obs`, which `base` (WGSL statements) moves to the line from `r = line`.
 */
export function lineMain(base: string): string {
  return `@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u,
        @builtin(num_workgroups) nw: vec3u) {
  let line = wg.x + wg.y * nw.x;
  if (line >= u32(prm[0])) { return; }
  let n = u32(prm[1]);
  var r = line;
  var ib = prm[2];
  var obs = prm[3];
${base}`;
}

/** Register-cached row softmax: `V` vec4 per thread, one workgroup per contiguous f32 row. */
function softmaxRowsCode(log: boolean, V: number, access: string): string {
  const lanes = Array.from({ length: V }, (_, k) => k);
  return `
@group(0) @binding(0) var<storage, ${
    access[0] === "r" ? "read" : "read_write"
  }> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
${prmDecl(2)}
${PRELUDE}
var<workgroup> red: array<f32, ${WG}>;
fn mx(a: f32, b: f32) -> f32 { return select(select(a, b, b > a), a + b, isnanf(a) || isnanf(b)); }
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u,
        @builtin(num_workgroups) nw: vec3u) {
  let row = wg.x + wg.y * nw.x;
  if (row >= u32(prm[1])) { return; }
  let n4 = u32(prm[0]) / 4u;
  let ib = u32(prm[2]) / 4u + row * n4;
  let ob = u32(prm[3]) / 4u + row * n4;
  let ninf = vec4<f32>(-inff());
${
    lanes.map((k) =>
      `  let i${k} = lid + ${
        k * WG
      }u;\n  var v${k} = ninf;\n  if (i${k} < n4) { v${k} = a[ib + i${k}]; }`
    ).join("\n")
  }
  var m = -inff();
${lanes.map((k) => `  m = mx(m, mx(mx(v${k}.x, v${k}.y), mx(v${k}.z, v${k}.w)));`).join("\n")}
  red[lid] = m;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = mx(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var acc = vec4<f32>(0.0);
${lanes.map((k) => `  let e${k} = exp(v${k} - m);\n  if (i${k} < n4) { acc += e${k}; }`).join("\n")}
  red[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
${
    log
      ? `  let lt = m + log(total);\n` +
        lanes.map((k) => `  if (i${k} < n4) { out[ob + i${k}] = v${k} - lt; }`).join("\n")
      : `  let inv = 1.0 / total;\n` +
        lanes.map((k) => `  if (i${k} < n4) { out[ob + i${k}] = e${k} * inv; }`).join("\n")
  }
}`;
}

/**
 * General softmax: one workgroup per line (any axis, any strides), online max/sum, then a
 * writing pass. Metadata: [nLines, n, inBase, outBase, step, outStep, kShape, kStrIn, kStrOut].
 */
function softmaxLinesCode(log: boolean, dt: string, kr: number, access: string): string {
  let base = "";
  for (let d = kr - 1; d >= 0; d--) {
    base += `  { let len = u32(prm[${6 + d}]); let c = i32(r % len); r = r / len; ` +
      `ib += c * prm[${6 + kr + d}]; obs += c * prm[${6 + 2 * kr + d}]; }\n`;
  }
  return `
${decl("src", 0, access[0])}
${decl("out", 1, "w")}
${prmDecl(2)}
${PRELUDE}
${loadFn("src", dt as never, "f")}
var<workgroup> rm: array<f32, ${WG}>;
var<workgroup> rs: array<f32, ${WG}>;
// Merge two (max, sum of exp(x - max)) pairs.
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  if (isnanf(m1) || isnanf(m2)) { return vec2<f32>(nanf(), nanf()); }
  if (m1 == -inff()) { return vec2<f32>(m2, s2); }
  if (m2 == -inff()) { return vec2<f32>(m1, s1); }
  let m = max(m1, m2);
  return vec2<f32>(m, s1 * exp(m1 - m) + s2 * exp(m2 - m));
}
${lineMain(base)}  let step = prm[4];
  let ostep = prm[5];
  var m = -inff();
  var s = 0.0;
  for (var j = lid; j < n; j += ${WG}u) {
    let q = merge(m, s, ld_src(ib + i32(j) * step), 1.0);
    m = q.x;
    s = q.y;
  }
  rm[lid] = m;
  rs[lid] = s;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h >>= 1u) {
    if (lid < h) {
      let q = merge(rm[lid], rs[lid], rm[lid + h], rs[lid + h]);
      rm[lid] = q.x;
      rs[lid] = q.y;
    }
    workgroupBarrier();
  }
  m = rm[0];
  s = rs[0];
  let lt = m + log(s);
  let inv = 1.0 / s;
  for (var j = lid; j < n; j += ${WG}u) {
    let v = ld_src(ib + i32(j) * step);
    out[u32(obs + i32(j) * ostep)] = bitcast<u32>(${log ? "v - lt" : "exp(v - m) * inv"});
  }
}`;
}

export function softmax(ctx: GpuContext, log: boolean): KernelEntry {
  return {
    supports(call: KernelCall) {
      const [x] = call.inputs, [out] = call.outputs;
      return !!out && x.ndim > 0 && x.ndim <= 8 && isFloatDt(x.dtype) && isFloatDt(out.dtype);
    },
    run(call: KernelCall<{ axis: number }>) {
      const [x] = call.inputs;
      const axis = call.attrs.axis;
      viaF32(ctx, call.outputs[0], (out) => {
        const n = x.shape[axis];
        const lines = n === 0 ? 0 : x.size / n;
        if (lines === 0) return;
        const src = ctx.input(stOf(x));
        const dst = ctx.output(stOf(out), out.offset === 0);
        const access = ctx.access([src], [dst]);
        if (
          x.dtype === "f32" && x.isContiguous && axis === x.ndim - 1 && n % 4 === 0 &&
          n <= 8 * 4 * WG && off(x) % 4 === 0 && off(out) % 4 === 0
        ) {
          const V = Math.ceil(n / (4 * WG));
          const k = ctx.kernel(
            `softmaxRows:${log}:${V}`,
            access,
            () => softmaxRowsCode(log, V, access),
          );
          const o = ctx.slot(), M = ctx.mi;
          M[o] = n;
          M[o + 1] = lines;
          M[o + 2] = off(x);
          M[o + 3] = off(out);
          const [gx, gy] = grid(lines, 1);
          ctx.run(k, [src, dst], gx, gy);
          return;
        }
        const ks: number[] = [], ki: number[] = [], ko: number[] = [];
        x.shape.forEach((d, i) => {
          if (i === axis) return;
          ks.push(d);
          ki.push(x.strides[i]);
          ko.push(out.strides[i]);
        });
        const c = coalesceAxes(ks, [ki, ko]);
        const kr = c.shape.length;
        const k = ctx.kernel(
          `softmaxLines:${log}:${x.dtype}:${kr}`,
          access,
          () => softmaxLinesCode(log, x.dtype, kr, access),
        );
        const o = ctx.slot(), M = ctx.mi;
        M[o] = lines;
        M[o + 1] = n;
        M[o + 2] = off(x);
        M[o + 3] = off(out);
        M[o + 4] = x.strides[axis];
        M[o + 5] = out.strides[axis];
        let w = o + 6;
        for (const v of [...c.shape, ...c.strides[0], ...c.strides[1]]) M[w++] = v;
        const [gx, gy] = grid(lines, 1);
        ctx.run(k, [src, dst], gx, gy);
      });
    },
  };
}
