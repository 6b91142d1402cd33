/**
 * GGUF speed: opening a 1 GB (TinyLlama-1.1B-shaped, Q4_0) file, and the TS codecs' throughput
 * (dequantize: f32 output bytes per second; quantize: f32 input bytes per second) beside the
 * `quantize` kernel's (`astype`: the WASM C quantizers where present), one thread, fastest run
 * of each.
 * Usage: deno run -A bench/gguf.ts [--open]   (--open: only the opening)
 */
import { ready, setWasmThreads, tensor } from "../mod.ts";
import { BLOCK_DTYPES, type BlockDType } from "../core/dtype.ts";
import { BLOCK_CODECS } from "../core/quant/mod.ts";
import { openGguf } from "../io/gguf/read.ts";
import { Raw } from "../tests/fuzz/gguf_cases.ts";

/**
 * Fastest of the runs in `minMs` (this machine's 2 cores are shared: the minimum is what one
 * uncontended core does; the mean mostly measures the neighbours).
 */
function time(f: () => void, minMs = 400): number {
  f();
  let best = Infinity;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

// ---- open a 1 GB file: TinyLlama-1.1B's tensor table and a 32000-token vocabulary ----------
const path = await Deno.makeTempFile({ suffix: ".gguf" });
{
  const shapes: [string, number[]][] = [["token_embd.weight", [2048, 32000]]];
  for (let l = 0; l < 22; l++) {
    shapes.push(
      [`blk.${l}.attn_norm.weight`, [2048]],
      [`blk.${l}.attn_q.weight`, [2048, 2048]],
      [`blk.${l}.attn_k.weight`, [2048, 256]],
      [`blk.${l}.attn_v.weight`, [2048, 256]],
      [`blk.${l}.attn_output.weight`, [2048, 2048]],
      [`blk.${l}.ffn_norm.weight`, [2048]],
      [`blk.${l}.ffn_gate.weight`, [2048, 5632]],
      [`blk.${l}.ffn_up.weight`, [2048, 5632]],
      [`blk.${l}.ffn_down.weight`, [5632, 2048]],
    );
  }
  shapes.push(["output_norm.weight", [2048]], ["output.weight", [2048, 32000]]);
  const r = new Raw().u32(0x46554747).u32(3).u64(shapes.length).u64(4);
  r.str("general.architecture").u32(8).str("llama");
  r.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(32000);
  for (let i = 0; i < 32000; i++) r.str(`tok${i}▁piece`);
  r.str("tokenizer.ggml.scores").u32(9).u32(6).u64(32000).bytes(4 * 32000);
  r.str("tokenizer.ggml.token_type").u32(9).u32(5).u64(32000).bytes(4 * 32000, 1);
  let off = 0;
  for (const [name, dims] of shapes) {
    const q = dims.length > 1;
    r.str(name).u32(dims.length);
    for (const d of dims) r.u64(d);
    r.u32(q ? 8 : 0).u64(off);
    const n = dims.reduce((a, b) => a * b, 1);
    off += Math.ceil((q ? (n / 32) * 34 : 4 * n) / 32) * 32;
  }
  r.pad(32);
  const head = r.build();
  using f = await Deno.open(path, { write: true });
  await f.write(head);
  await f.truncate(head.length + off); // sparse: the data section costs no disk
  console.log(`file: ${((head.length + off) / 2 ** 30).toFixed(2)} GiB, header ${head.length} B`);
}
/** CPU seconds this process has used (user + system), from /proc/self/stat (USER_HZ = 100). */
function cpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
for (let i = 0; i < 5; i++) (await openGguf(path)).close(); // warm-up: the parser's JIT tiers
const opens: number[] = [];
const load0 = Deno.loadavg()[0], cpu0 = cpuSeconds();
for (let i = 0; i < 100; i++) {
  const t0 = performance.now();
  const f = await openGguf(path);
  opens.push(performance.now() - t0);
  f.close();
}
const cpuMs = ((cpuSeconds() - cpu0) / 100) * 1000;
opens.sort((a, b) => a - b);
console.log(
  `openGguf: min ${opens[0].toFixed(1)} ms, median ${opens[50].toFixed(1)} ms, max ${
    opens.at(-1)!.toFixed(1)
  } ms; CPU ${cpuMs.toFixed(1)} ms per open (incl. GC); load average ${load0.toFixed(1)}`,
);
await Deno.remove(path);

if (Deno.args.includes("--open")) Deno.exit(0);

// ---- codec throughput ---------------------------------------------------------------------
const N = 1 << 20;
const x = Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.1) * 2 + Math.cos(i * 0.37));
const y = new Float32Array(N);
await ready();
setWasmThreads(1);
const xt = tensor(x).reshape([N / 2048, 2048]);
console.log(
  "type     dequant MB/s (f32 out)   quantize MB/s (f32 in)   quantize kernel MB/s (1 thread)",
);
for (const t of Object.keys(BLOCK_CODECS) as BlockDType[]) {
  const info = BLOCK_DTYPES[t];
  const q = new Uint8Array((N / info.blockSize) * info.blockBytes);
  const c = BLOCK_CODECS[t];
  if (c.quantize) c.quantize(x, q);
  else for (let i = 0; i < q.length; i++) q[i] = (i * 73) & 0xff;
  const dq = time(() => c.dequantize(q, y));
  const qt = c.quantize ? time(() => c.quantize!(x, q), 600) : NaN;
  // the `quantize` kernel astype routes to (the WASM plugin's C quantizer where it has the type)
  const kt = c.quantize ? time(() => xt.astype(t).dispose(), 600) : NaN;
  const mb = (ms: number) => ((4 * N) / 1e6 / (ms / 1000)).toFixed(0).padStart(8);
  console.log(
    `${t.padEnd(8)} ${mb(dq)}                ${c.quantize ? mb(qt) : "       -"}` +
      `                 ${c.quantize ? mb(kt) : "       -"}`,
  );
}
