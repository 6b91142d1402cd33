/**
 * Raw WGSL kernels for bench/gpu.ts: the same work as our ops, with their own pipelines and no
 * library code, so the benchmark shows what a plain kernel on this runtime and adapter reaches.
 *
 * @module
 */

/** vec4 add over 16M·k elements: out = a + b, a 2-D grid of 256-thread workgroups. */
export const RAW_ADD = `
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = g.x + g.y * nw.x * 256u;
  if (i < arrayLength(&o)) { o[i] = a[i] + b[i]; }
}`;

/** One 256-element step y = 0.5·x + 0.25 (one workgroup): the dependent tiny dispatch. */
export const RAW_AFFINE = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) i: u32) { y[i] = x[i] * 0.5 + 0.25; }`;

/** Row softmax of `cols` f32 (a multiple of 4): one 256-thread workgroup per row, vec4 loads. */
export const RAW_SOFTMAX = (cols: number) => `
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
const C4 = ${cols / 4}u;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(local_invocation_index) l: u32) {
  let base = w.x * C4;
  var m = -3.0e38;
  for (var i = l; i < C4; i += 256u) { let v = x[base + i]; m = max(m, max(max(v.x, v.y), max(v.z, v.w))); }
  red[l] = m;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) { if (l < s) { red[l] = max(red[l], red[l + s]); } workgroupBarrier(); }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var i = l; i < C4; i += 256u) { let e = exp(x[base + i] - vec4<f32>(mx)); sum += e.x + e.y + e.z + e.w; }
  red[l] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) { if (l < s) { red[l] += red[l + s]; } workgroupBarrier(); }
  let inv = 1.0 / red[0];
  for (var i = l; i < C4; i += 256u) { y[base + i] = exp(x[base + i] - vec4<f32>(mx)) * inv; }
}`;

/** A compute pipeline for `code` (entry point `main`) and a binder of whole buffers. */
export function rawKernel(device: GPUDevice, code: string, _bindings: number): {
  pipeline: GPUComputePipeline;
  bind: (buffers: GPUBuffer[]) => GPUBindGroup;
} {
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
  const bind = (buffers: GPUBuffer[]) =>
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  return { pipeline, bind };
}
