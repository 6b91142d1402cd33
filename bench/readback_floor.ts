/**
 * A self-contained reproduction of Deno's WebGPU readback floor (no library code): time
 * `mapAsync` of a 4-byte buffer after (a) nothing, (b) one tiny dispatch, and time
 * `queue.onSubmittedWorkDone()` after one tiny dispatch. On Deno 2.9.6 each `mapAsync` costs
 * ≥ ~10 ms whatever preceded it: the runtime polls the device, then sleeps 10 ms in a loop
 * (`ext/webgpu/buffer.rs`) before resolving. Run: `deno run -A bench/readback_floor.ts`.
 *
 * @module
 */
const adapter = await navigator.gpu.requestAdapter();
if (!adapter) {
  console.error("no WebGPU adapter");
  Deno.exit(1);
}
const device = await adapter.requestDevice();
const storage = device.createBuffer({ size: 256, usage: 0x80 | 0x4 }); // STORAGE | COPY_SRC
const read = device.createBuffer({ size: 4, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
const pipeline = device.createComputePipeline({
  layout: "auto",
  compute: {
    module: device.createShaderModule({
      code: `@group(0) @binding(0) var<storage, read_write> b: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) { b[i] += 1u; }`,
    }),
    entryPoint: "main",
  },
});
const group = device.createBindGroup({
  layout: pipeline.getBindGroupLayout(0),
  entries: [{ binding: 0, resource: { buffer: storage } }],
});
function dispatch(copy: boolean) {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(1);
  pass.end();
  if (copy) enc.copyBufferToBuffer(storage, 0, read, 0, 4);
  device.queue.submit([enc.finish()]);
}
async function ms(f: () => Promise<void>, n = 20): Promise<string> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return `median ${t[n >> 1].toFixed(2)} ms (min ${t[0].toFixed(2)}, max ${t[n - 1].toFixed(2)})`;
}
const info = adapter.info;
console.log(`Deno ${Deno.version.deno}, adapter: ${info.description || info.vendor}`);
console.log(
  "mapAsync, nothing submitted:      ",
  await ms(async () => {
    await read.mapAsync(1);
    read.unmap();
  }),
);
console.log(
  "dispatch + copy + mapAsync:       ",
  await ms(async () => {
    dispatch(true);
    await read.mapAsync(1);
    read.unmap();
  }),
);
console.log(
  "dispatch + onSubmittedWorkDone(): ",
  await ms(async () => {
    dispatch(false);
    await device.queue.onSubmittedWorkDone();
  }),
);
