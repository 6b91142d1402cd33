/**
 * Fused layer normalization on the GPU (f32, contiguous operands; contract in
 * backends/scalar/kernels/layer_norm.ts): `layerNorm` is one dispatch (a workgroup per row: the
 * mean, then Σ(x − mean)² in a second pass over the row, then y), `layerNormBackward` two (a
 * workgroup per row for dx, a thread per column for dweight and dbias), where the composed forms
 * take 9 and ~15.
 *
 * @module
 */
import type { LayerNormAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, OpKernelTable } from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import { dispatch, f32Contiguous, HEAD, RT, wgSum } from "./norm.ts";
import { THREAD, TID } from "./wgsl.ts";

/** Row `r`'s workgroup prologue: `D`, the row's first element `o` (metadata [R, D, _, eps, …]). */
const ROW = `
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u) {
  let r = wid.x + wid.y * nw.x;
  if (r >= u32(prm[0])) { return; }
  let D = u32(prm[1]); let o = r * D;`;

/** y = (x − mean)·rstd·w + b per row; mean and rstd written. */
function forwardCode(access: string): string {
  return HEAD(["X", "Wt", "Bi", "Y", "Mo", "Ro"], access) + `
var<workgroup> red: array<f32, ${RT}>;
@compute @workgroup_size(${RT})${ROW}
  var s = 0.0;
  for (var j = lid; j < D; j += ${RT}u) { s += bitcast<f32>(X[at(0u, o + j)]); }
  ${wgSum("s", "tot")}
  let mu = tot / f32(D);
  var q = 0.0;
  for (var j = lid; j < D; j += ${RT}u) { let d = bitcast<f32>(X[at(0u, o + j)]) - mu; q += d * d; }
  ${wgSum("q", "qt")}
  let rs = inverseSqrt(qt / f32(D) + bitcast<f32>(prm[3]));
  for (var j = lid; j < D; j += ${RT}u) {
    var v = (bitcast<f32>(X[at(0u, o + j)]) - mu) * rs;
    if (prm[4] == 1) { v = v * bitcast<f32>(Wt[at(1u, j)]); }
    if (prm[5] == 1) { v = v + bitcast<f32>(Bi[at(2u, j)]); }
    Y[at(3u, o + j)] = bitcast<u32>(v);
  }
  if (lid == 0u) { Mo[at(4u, r)] = bitcast<u32>(mu); Ro[at(5u, r)] = bitcast<u32>(rs); }
}`;
}

/** dx per row: rstd·(ĝ − Σĝ/D − x̂·Σ(ĝ·x̂)/D), ĝ = gy·w. */
function backwardRowsCode(access: string): string {
  return HEAD(["G", "X", "M", "Rs", "Wt", "DX"], access) + `
var<workgroup> red: array<f32, ${RT}>;
fn gh(j: u32, o: u32) -> f32 {
  let g = bitcast<f32>(G[at(0u, o + j)]);
  if (prm[4] == 1) { return g * bitcast<f32>(Wt[at(4u, j)]); }
  return g;
}
@compute @workgroup_size(${RT})${ROW}
  let mu = bitcast<f32>(M[at(2u, r)]); let rs = bitcast<f32>(Rs[at(3u, r)]);
  var s1 = 0.0; var s2 = 0.0;
  for (var j = lid; j < D; j += ${RT}u) {
    let g = gh(j, o);
    s1 += g;
    s2 += g * (bitcast<f32>(X[at(1u, o + j)]) - mu) * rs;
  }
  ${wgSum("s1", "t1")}
  ${wgSum("s2", "t2")}
  let a = t1 / f32(D); let b = t2 / f32(D);
  for (var j = lid; j < D; j += ${RT}u) {
    let xh = (bitcast<f32>(X[at(1u, o + j)]) - mu) * rs;
    DX[at(5u, o + j)] = bitcast<u32>(rs * (gh(j, o) - a - xh * b));
  }
}`;
}

/** dweight = Σ_rows gy·x̂ and dbias = Σ_rows gy, a thread per column. */
function backwardColsCode(access: string): string {
  return HEAD(["G", "X", "M", "Rs", "DW", "DB"], access) + `
@compute @workgroup_size(256)
fn main(${THREAD}) {
  let j = ${TID}; let R = u32(prm[0]); let D = u32(prm[1]);
  if (j >= D) { return; }
  var sw = 0.0; var sb = 0.0;
  for (var r = 0u; r < R; r++) {
    let g = bitcast<f32>(G[at(0u, r * D + j)]);
    sw += g * (bitcast<f32>(X[at(1u, r * D + j)]) - bitcast<f32>(M[at(2u, r)])) *
      bitcast<f32>(Rs[at(3u, r)]);
    sb += g;
  }
  DW[at(4u, j)] = bitcast<u32>(sw);
  DB[at(5u, j)] = bitcast<u32>(sb);
}`;
}

/** The layer-norm kernels bound to a context. */
export function layerNormKernels(ctx: GpuContext): OpKernelTable {
  return {
    layerNorm: {
      supports: (call: KernelCall<LayerNormAttrs>) =>
        f32Contiguous([...call.inputs, ...call.outputs]),
      run: (call: KernelCall<LayerNormAttrs>) => {
        const a = call.attrs;
        const [x] = call.inputs;
        const w = a.hasWeight ? call.inputs[1] : x;
        const b = a.hasBias ? call.inputs[a.hasWeight ? 2 : 1] : x;
        const [y, mean, rstd] = call.outputs;
        const R = a.size === 0 ? 0 : x.size / a.size;
        if (R === 0) return;
        dispatch(ctx, "ln:fwd", forwardCode, [x, w, b], [y, mean, rstd], [R, a.size, 0], a, {
          groups: R,
        });
      },
    },
    layerNormBackward: {
      supports: (call: KernelCall<LayerNormAttrs>) =>
        f32Contiguous([...call.inputs, ...call.outputs]),
      run: (call: KernelCall<LayerNormAttrs>) => {
        const a = call.attrs;
        const [g, x, mean, rstd] = call.inputs;
        const w = a.hasWeight ? call.inputs[4] : x;
        const [dx, dw, db] = call.outputs;
        const R = a.size === 0 ? 0 : x.size / a.size;
        if (a.size === 0) return;
        const dims: [number, number, number] = [R, a.size, 0];
        if (R > 0) {
          dispatch(ctx, "ln:rows", backwardRowsCode, [g, x, mean, rstd, w], [dx], dims, a, {
            groups: R,
          });
        }
        dispatch(ctx, "ln:cols", backwardColsCode, [g, x, mean, rstd], [dw, db], dims, a, {
          threads: a.size,
        });
      },
    },
  };
}
