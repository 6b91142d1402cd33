/**
 * The compute ceiling of WASM int8 dot products on this CPU, with no memory traffic: chains of
 * independent `i32x4.relaxed_dot_i8x16_i7x16_add_s` accumulators (and the i16 forms the kernels
 * used before) in registers, timed in V8 (Deno), best of `--reps`. The clock is calibrated in the
 * same run with a dependent chain of `i32.add` (latency one cycle), written as raw wasm bytes so
 * that no compiler can fold it (the i32x4.add chain is printed too; V8's takes more than a
 * cycle). Prints MACs per ns (the robust number) and per calibrated cycle for one core.
 *
 *     deno run -A bench/dot_ceiling.ts [--reps 30] [--iters 2000000]   (needs clang-16)
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "30" },
    iters: { type: "string", default: "2000000" },
  },
});
const REPS = Number(values.reps), ITERS = Number(values.iters);

const src = new URL("./ceiling/dot_ceiling.c", import.meta.url).pathname;
const out = await Deno.makeTempFile({ suffix: ".wasm" });
const cc = new Deno.Command("clang-16", {
  args: [
    "--target=wasm32",
    "-nostdlib",
    "-O3",
    "-msimd128",
    "-mrelaxed-simd",
    "-Wl,--no-entry",
    "-o",
    out,
    src,
  ],
}).outputSync();
if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
const k = (await WebAssembly.instantiate(await Deno.readFile(out))).instance.exports;
await Deno.remove(out);
const mem = new Uint8Array((k.memory as WebAssembly.Memory).buffer);
const inp = (k.buf as () => number)();
for (let i = 0; i < 64; i++) mem[inp + i] = (i * 37 + 11) & 0x7f;

/**
 * (func (param i32) (result i32)): ADDS dependent adds a trip, i32x4.add on v128 locals (simd) or
 * i32.add on i32 locals.
 */
function addChainModule(adds: number, simd: boolean): Uint8Array<ArrayBuffer> {
  const body: number[] = simd
    ? [
      1,
      2,
      0x7b, // two v128 locals: s (1), b (2)
      0x20,
      0,
      0xfd,
      0x11,
      0x21,
      2, // b = i32x4.splat(param)
      0x02,
      0x40,
      0x03,
      0x40, // block, loop
      0x20,
      1,
      ...Array.from({ length: adds }, () => [0x20, 2, 0xfd, 0xae, 0x01]).flat(),
      0x21,
      1,
      0x20,
      0,
      0x41,
      1,
      0x6b,
      0x22,
      0,
      0x0d,
      0, // iters -= 1; br_if loop
      0x0b,
      0x0b, // end loop, end block
      0x20,
      1,
      0xfd,
      0x1b,
      0, // i32x4.extract_lane 0
      0x0b,
    ]
    : [
      1,
      2,
      0x7f, // two i32 locals: s (1), b (2)
      0x20,
      0,
      0x41,
      3,
      0x6c,
      0x21,
      2, // b = 3·param
      0x02,
      0x40,
      0x03,
      0x40,
      0x20,
      1,
      ...Array.from({ length: adds }, () => [0x20, 2, 0x6a]).flat(),
      0x21,
      1,
      0x20,
      0,
      0x41,
      1,
      0x6b,
      0x22,
      0,
      0x0d,
      0,
      0x0b,
      0x0b,
      0x20,
      1,
      0x0b,
    ];
  const sec = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
  return new Uint8Array([
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...sec(1, [1, 0x60, 1, 0x7f, 1, 0x7f]),
    ...sec(3, [1, 0]),
    ...sec(7, [1, 5, ...new TextEncoder().encode("chain"), 0, 0]),
    ...sec(10, [1, ...leb(body.length), ...body]),
  ]);
}
function leb(n: number): number[] {
  const o: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    o.push(b);
  } while (n);
  return o;
}
const ADDS = 16;
const chainOf = (simd: boolean) =>
  new WebAssembly.Instance(new WebAssembly.Module(addChainModule(ADDS, simd))).exports.chain as (
    n: number,
  ) => number;
const chain = chainOf(true), chainScalar = chainOf(false);

function best(f: (n: number) => number, n: number): number {
  f(1000);
  let t = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    f(n);
    t = Math.min(t, performance.now() - t0);
  }
  return t * 1e6; // ns
}
const cycleNs = best(chain, ITERS) / (ITERS * ADDS);
const scalarNs = best(chainScalar, ITERS) / (ITERS * ADDS);
console.log(
  `clock: dependent i32x4.add chain ${(1 / cycleNs).toFixed(2)} GHz, i32.add chain ${
    (1 / scalarNs).toFixed(2)
  } GHz (the scalar chain is the calibration: V8's i32x4 chain is not 1 cycle/add)`,
);
const kernels: [string, number][] = [
  ["dotadd4", 4 * 16],
  ["dotadd8", 8 * 16],
  ["dotadd12", 12 * 16],
  ["dot16x8", 8 * 32],
  ["dot_i16", 8 * 8],
];
for (const [name, macsPerIter] of kernels) {
  const ns = best(k[name] as (n: number) => number, ITERS);
  const perNs = (macsPerIter * ITERS) / ns;
  console.log(
    `${name.padEnd(9)} ${perNs.toFixed(1).padStart(6)} MAC/ns  ${
      (perNs * scalarNs).toFixed(1)
        .padStart(5)
    } MAC/cycle`,
  );
}
