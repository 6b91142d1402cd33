/**
 * Hot conv2d microbenchmarks of BlazeFace's layer shapes (1 thread): depthwise 3×3 (the WASM
 * kernel of backends/cpu/src/conv_dw.c), the 5×5 stride-2 stem and 1×1 convs (OpenBLAS), median
 * and minimum µs over 300 calls (after 300 untimed ones). Pass another checkout's root to time its kernels with the same
 * script (A/B on a shared machine: alternate the two).
 *
 * Usage: deno run -A bench/onnx_conv.ts [ROOT]
 */
const root = Deno.args[0] ?? new URL("..", import.meta.url).href.replace(/\/$/, "");
await import(`${root}/backends/runtime.ts`);
const { setBlasThreads, setWasmThreads } = await import(`${root}/backends/mod.ts`);
const { conv2d } = await import(`${root}/core/ops/conv.ts`);
const { fromTyped } = await import(`${root}/core/ops/creation.ts`);
setWasmThreads(1);
setBlasThreads(1);

const mk = (s: number[]) =>
  fromTyped(
    Float32Array.from({ length: s.reduce((a, b) => a * b) }, (_, i) => Math.sin(i)),
    s,
    "f32",
  );

function time(name: string, f: () => void) {
  // Untimed calls first: the WASM module runs its baseline code until V8 has optimized it.
  for (let i = 0; i < 300; i++) f();
  const ts: number[] = [];
  for (let i = 0; i < 300; i++) {
    const a = performance.now();
    f();
    ts.push(performance.now() - a);
  }
  ts.sort((a, b) => a - b);
  const us = (v: number) => (v * 1000).toFixed(0).padStart(5);
  console.log(`${name.padEnd(28)} median ${us(ts[150])} µs  min ${us(ts[0])} µs`);
}

const x = mk([1, 24, 64, 64]), w = mk([24, 1, 3, 3]);
time("dw 24×64×64 s1 p1", () => conv2d(x, w, { padding: 1, groups: 24 }).dispose());
time("dw 24×64×64 s2 p1", () => conv2d(x, w, { padding: 1, stride: 2, groups: 24 }).dispose());
const x8 = mk([1, 96, 8, 8]), w8 = mk([96, 1, 3, 3]);
time("dw 96×8×8 s1 p1", () => conv2d(x8, w8, { padding: 1, groups: 96 }).dispose());
const xs = mk([1, 3, 128, 128]), ws = mk([24, 3, 5, 5]), bs = mk([24]);
time("stem 3→24 5×5 s2 p2", () => conv2d(xs, ws, { padding: 2, stride: 2, bias: bs }).dispose());
const w1 = mk([28, 24, 1, 1]), b1 = mk([28]);
time("1×1 24→28 64×64", () => conv2d(x, w1, { bias: b1 }).dispose());
const w96 = mk([96, 96, 1, 1]);
time("1×1 96→96 8×8", () => conv2d(x8, w96).dispose());
