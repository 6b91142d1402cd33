/**
 * cumsum and cumprod on the GPU along any axes: one workgroup per line, a Hillis-Steele scan per
 * block and a running carry between blocks.
 *
 * @module
 */
import { coalesceAxes } from "../../../core/shape.ts";
import { lineMain } from "./softmax.ts";
import { viaF32 } from "./f32_output.ts";
import type { KernelCall, KernelEntry } from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import { decl, grid, isFloatDt, loadFn, off, PRELUDE, prmDecl, stOf, WG } from "./wgsl.ts";

/**
 * cumsum/cumprod: one workgroup per line, 1024 elements per block (4 per thread, a Hillis-Steele
 * scan of the thread totals), a running carry between blocks. Metadata as softmax's, with the
 * line's elements decomposed over the (coalesced) scanned axes: [nLines, n, inBase, outBase,
 * outStep, rr, kShape, kStrIn, kStrOut, rShape, rStr].
 */
function scanCode(prod: boolean, dt: string, kr: number, rr: number, access: string): string {
  const op = prod ? "*" : "+";
  const id = prod ? "1.0" : "0.0";
  let base = "";
  for (let d = kr - 1; d >= 0; d--) {
    base += `  { let len = u32(prm[${5 + d}]); let c = i32(r % len); r = r / len; ` +
      `ib += c * prm[${5 + kr + d}]; obs += c * prm[${5 + 2 * kr + d}]; }\n`;
  }
  const R = 5 + 3 * kr;
  let red = "";
  for (let d = rr - 1; d >= 0; d--) {
    red += `  { let len = u32(prm[${R + d}]); o += i32(r % len) * prm[${
      R + rr + d
    }]; r = r / len; }\n`;
  }
  return `
${decl("src", 0, access[0])}
${decl("out", 1, "w")}
${prmDecl(2)}
${PRELUDE}
${loadFn("src", dt as never, "f")}
fn redOff(j: u32) -> i32 {
  var r = j;
  var o = 0;
${red}  return o;
}
var<workgroup> sh: array<f32, ${WG}>;
${lineMain(base)}  let ostep = prm[4];
  var carry = ${id};
  for (var b = 0u; b < n; b += ${4 * WG}u) {
    var v: array<f32, 4>;
    var run = ${id};
    for (var q = 0u; q < 4u; q++) {
      let j = b + lid * 4u + q;
      var x = ${id};
      if (j < n) { x = ld_src(ib + redOff(j)); }
      run = run ${op} x;
      v[q] = run;
    }
    sh[lid] = run;
    workgroupBarrier();
    for (var s = 1u; s < ${WG}u; s <<= 1u) {
      var t = ${id};
      if (lid >= s) { t = sh[lid - s]; }
      workgroupBarrier();
      if (lid >= s) { sh[lid] = t ${op} sh[lid]; }
      workgroupBarrier();
    }
    var pre = carry;
    if (lid > 0u) { pre = carry ${op} sh[lid - 1u]; }
    for (var q = 0u; q < 4u; q++) {
      let j = b + lid * 4u + q;
      if (j < n) { out[u32(obs + i32(j) * ostep)] = bitcast<u32>(pre ${op} v[q]); }
    }
    carry = carry ${op} sh[${WG - 1}];
    workgroupBarrier();
  }
}`;
}

export function scan(ctx: GpuContext, prod: boolean): KernelEntry {
  return {
    supports(call: KernelCall) {
      const [x] = call.inputs, [out] = call.outputs;
      return !!out && isFloatDt(x.dtype) && isFloatDt(out.dtype) && x.ndim <= 8;
    },
    run(call: KernelCall<{ axis: number | null }>) {
      const [x] = call.inputs;
      const axis = call.attrs.axis;
      viaF32(ctx, call.outputs[0], (out) => {
        if (out.size === 0) return;
        const axes = axis === null ? [...x.shape.keys()] : [axis];
        const ks: number[] = [], ki: number[] = [], ko: number[] = [];
        const rs: number[] = [], ri: number[] = [];
        const outStr = axis === null ? null : out.strides;
        x.shape.forEach((d, i) => {
          if (axes.includes(i)) {
            rs.push(d);
            ri.push(x.strides[i]);
          } else {
            ks.push(d);
            ki.push(x.strides[i]);
            ko.push(outStr![i]);
          }
        });
        const k = coalesceAxes(ks, [ki, ko]), r = coalesceAxes(rs, [ri]);
        const n = rs.reduce((a, b) => a * b, 1);
        const lines = ks.reduce((a, b) => a * b, 1);
        const src = ctx.input(stOf(x));
        const dst = ctx.output(stOf(out), out.offset === 0);
        const access = ctx.access([src], [dst]);
        const kr = k.shape.length, rr = r.shape.length;
        const kern = ctx.kernel(
          `scan:${prod}:${x.dtype}:${kr}:${rr}`,
          access,
          () => scanCode(prod, x.dtype, kr, rr, access),
        );
        const o = ctx.slot(), M = ctx.mi;
        M[o] = lines;
        M[o + 1] = n;
        M[o + 2] = off(x);
        M[o + 3] = off(out);
        M[o + 4] = axis === null ? 1 : out.strides[axis];
        let w = o + 5;
        for (
          const v of [...k.shape, ...k.strides[0], ...k.strides[1], ...r.shape, ...r.strides[0]]
        ) {
          M[w++] = v;
        }
        const [gx, gy] = grid(lines, 1);
        ctx.run(kern, [src, dst], gx, gy);
      });
    },
  };
}
