/**
 * sort, argsort and topk on the GPU, by rank: one thread per element counts the elements of its
 * line that come before it in the (stable) order, and writes itself at that position (topk keeps
 * positions below k). The order is the scalar backend's: ties keep their original order, NaN sorts
 * last ascending and first descending. O(n) work per element, so lines are limited to 16384
 * elements (longer ones have no GPU kernel). Values f32 (also f16/bf16/i32: moved as raw bits,
 * compared as f32 — exact for those, i32 to 2^24), indices i64.
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
import { elementBytes } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import {
  decl,
  grid,
  loadFn,
  off,
  PRELUDE,
  prmDecl,
  stOf,
  storeFn,
  THREAD,
  TID,
  WG,
} from "./wgsl.ts";
import type { SortAttrs } from "../../../core/ops/contracts/mod.ts";

const MAX_LINE = 16384;

/**
 * Metadata: [total, n, k, xOff, step, vOff, vStep, iOff, iStep, kr, kShape, kStrX, kStrV, kStrI].
 */
function sortCode(
  dt: string,
  desc: boolean,
  vals: boolean,
  idx: boolean,
  kr: number,
  access: string,
) {
  const B = 10;
  let base = "";
  for (let d = kr - 1; d >= 0; d--) {
    base += `  { let len = u32(prm[${B + d}]); let c = i32(r % len); r = r / len; ` +
      `xb += c * prm[${B + kr + d}]; vb += c * prm[${B + 2 * kr + d}]; ib += c * prm[${
        B + 3 * kr + d
      }]; }\n`;
  }
  const before = desc
    ? `if (na && nb) { return j < i; } if (na != nb) { return na; } if (a != b) { return a > b; } return j < i;`
    : `if (na && nb) { return j < i; } if (na != nb) { return nb; } if (a != b) { return a < b; } return j < i;`;
  const bytes = elementBytes(dt as "f32");
  return `
${decl("X", 0, access[0])}
${decl("V", 1, bytes < 4 ? "a" : "w")}
${decl("I", 2, "w")}
${prmDecl(3)}
${PRELUDE}
${loadFn("X", dt as never, "f")}
${loadFn("X", dt as never, "r").replace("fn ld_X(", "fn ldr(")}
${bytes < 4 ? storeFn("V", dt as never, "r") : ""}
// Whether element (a, j) comes before (b, i) in the order.
fn before(a: f32, j: u32, b: f32, i: u32) -> bool {
  let na = isnanf(a);
  let nb = isnanf(b);
  ${before}
}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
  let n = u32(prm[1]);
  let line = t / n;
  let i = t % n;
  var r = line;
  var xb = prm[3]; var vb = prm[5]; var ib = prm[7];
${base}  let step = prm[4];
  let v = ld_X(xb + i32(i) * step);
  var rank = 0u;
  for (var j = 0u; j < n; j++) {
    if (before(ld_X(xb + i32(j) * step), j, v, i)) { rank++; }
  }
  if (rank >= u32(prm[2])) { return; }
${
    vals
      ? (bytes < 4
        ? `  st_V(vb + i32(rank) * prm[6], ldr(xb + i32(i) * step));`
        : `  V[vb + i32(rank) * prm[6]] = ldr(xb + i32(i) * step);`)
      : ""
  }
${idx ? `  let io = ib + i32(rank) * prm[8];\n  I[2 * io] = i;\n  I[2 * io + 1] = 0u;` : ""}
}`;
}

function sortKernel(ctx: GpuContext, op: "sort" | "argsort" | "topk"): KernelEntry {
  return {
    supports(call: KernelCall<SortAttrs>) {
      const [x] = call.inputs;
      const ok = ["f32", "f16", "bf16", "i32"].includes(x.dtype);
      return ok && x.ndim <= 8 && x.ndim > 0 && x.shape[call.attrs.axis] <= MAX_LINE;
    },
    run(call: KernelCall<SortAttrs>) {
      const [x] = call.inputs;
      const axis = call.attrs.axis;
      const vOut: TensorView | null = op === "argsort" ? null : call.outputs[0];
      const iOut: TensorView | null = op === "sort" ? null : call.outputs[op === "topk" ? 1 : 0];
      const n = x.shape[axis];
      const total = x.size;
      if (total === 0 || n === 0) return;
      const ks: number[] = [], kx: number[] = [], kv: number[] = [], ki: number[] = [];
      x.shape.forEach((d, i) => {
        if (i === axis) return;
        ks.push(d);
        kx.push(x.strides[i]);
        kv.push(vOut ? vOut.strides[i] : 0);
        ki.push(iOut ? iOut.strides[i] : 0);
      });
      const c = coalesceAxes(ks, [kx, kv, ki]);
      const kr = c.shape.length;
      const xb = ctx.input(stOf(x));
      const vb = vOut ? ctx.output(stOf(vOut), false) : ctx.errBuf;
      const ib = iOut ? ctx.output(stOf(iOut), false) : ctx.errBuf;
      const access = ctx.access([xb], [vb, ib]);
      const dt = x.dtype;
      const kern = ctx.kernel(
        `${op}:${dt}:${call.attrs.descending}:${kr}:${!!vOut}:${!!iOut}`,
        access,
        () => sortCode(dt, call.attrs.descending, !!vOut, !!iOut, kr, access),
      );
      const m = ctx.slot(), M = ctx.mi;
      const vals = [
        total,
        n,
        call.attrs.k ?? n,
        off(x),
        x.strides[axis],
        vOut ? off(vOut) : 0,
        vOut ? vOut.strides[axis] : 0,
        iOut ? off(iOut) : 0,
        iOut ? iOut.strides[axis] : 0,
        kr,
        ...c.shape,
        ...c.strides[0],
        ...c.strides[1],
        ...c.strides[2],
      ];
      vals.forEach((v, j) => M[m + j] = v);
      const [gx, gy] = grid(total);
      ctx.run(kern, [xb, vb, ib], gx, gy);
    },
  };
}

/** The sort kernels bound to a context. */
export function sortKernels(ctx: GpuContext): OpKernelTable {
  return {
    sort: sortKernel(ctx, "sort"),
    argsort: sortKernel(ctx, "argsort"),
    topk: sortKernel(ctx, "topk"),
  };
}

/** The sort-family ops with a GPU kernel. */
export const SORT_OPS: readonly string[] = ["sort", "argsort", "topk"];
