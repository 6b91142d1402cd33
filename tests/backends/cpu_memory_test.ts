/**
 * The CPU memory policy (docs/ARCHITECTURE.md, "CPU memory"): CPU tensors live in the wasm32 heap
 * (4 GiB at most); what does not fit, and what `outsideHeap` places there on purpose (a model's
 * weights), lives in standalone host ArrayBuffers beside it, which the OpenBLAS and scalar
 * kernels compute on in place; when neither can hold a storage, `alloc` throws a DeviceError that
 * names the heap's limit, the standalone limit and what to do instead.
 *
 * The heap's limit is simulated small (a WasmHeap over a few pages, or a fresh process with
 * APRENDER_WASM_HEAP_MAX_MIB) so the full-heap path runs without 4 GiB of RAM. The real > 4 GiB
 * run (heap full at 4 GiB plus a 1 GiB tensor beside it) is opt-in: APRENDER_BIG_MEMORY=1.
 */
import assert from "node:assert/strict";
import { DeviceError, full, ones, Tensor, tensor, wasmHeapStats } from "../../mod.ts";
import {
  type HostStorage,
  outsideHeap,
  setHostAllocator,
  setStandaloneHostLimit,
} from "../../internal.ts";
import { WasmHeap } from "../../backends/cpu/heap.ts";
import { loadRuntime } from "../../backends/cpu/runtime.ts";

const MiB = 2 ** 20;
const allocatorOf = (t: Tensor) => (t.storage as HostStorage).allocator;

/** A heap over its own memory of `pages` 64 KiB pages, installed for `fn`, then the real one. */
function withSmallHeap(pages: number, fn: (heap: WasmHeap) => void): void {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });
  const heap = new WasmHeap(memory, 1024, pages, undefined, 0);
  const previous = setHostAllocator(heap);
  assert.equal(previous, loadRuntime().heap);
  try {
    fn(heap);
  } finally {
    setHostAllocator(previous);
  }
}

Deno.test("cpu memory: a tensor the heap cannot hold is computed on beside it", () => {
  withSmallHeap(8, (heap) => { // 512 KiB
    assert.equal(heap.limitBytes, 512 * 1024);
    const inHeap = full([256, 256], 0.5); // 256 KiB
    const beside = full([512, 512], 0.25); // 1 MiB: does not fit
    assert.equal(allocatorOf(inHeap), heap);
    assert.equal(allocatorOf(beside), null);
    // Computing on it: sums exact in f32, a matmul against the JS reference.
    const total = beside.sum();
    assert.equal(total.item(), 0.25 * 512 * 512);
    const flat = tensor(Array.from({ length: 512 * 4 }, (_, i) => (i % 7) - 3));
    const x = flat.reshape([512, 4]);
    const product = beside.matmul(x);
    const y = product.dataSync();
    const col = [0, 1, 2, 3].map((j) => {
      let s = 0;
      for (let k = 0; k < 512; k++) s += 0.25 * ((k * 4 + j) % 7 - 3);
      return s;
    });
    for (let i = 0; i < 512; i++) {
      for (let j = 0; j < 4; j++) assert.equal(y[i * 4 + j], col[j], `y[${i},${j}]`);
    }
    for (const t of [inHeap, beside, flat, x, total, product]) t.dispose();
    assert.equal(heap.stats().liveBytes, 0);
  });
});

Deno.test("cpu memory: neither heap nor a standalone buffer → DeviceError naming both limits", () => {
  withSmallHeap(8, () => {
    const previous = setStandaloneHostLimit(2 * MiB);
    try {
      const ok = Tensor.empty([MiB / 4], "f32"); // 1 MiB: standalone, under the cap
      assert.equal(allocatorOf(ok), null);
      ok.dispose();
      assert.throws(() => Tensor.empty([MiB], "f32"), (e: unknown) => {
        assert.ok(e instanceof DeviceError, String(e));
        const m = (e as Error).message;
        assert.match(m, /cannot allocate 4194304 bytes \(4 MiB\) of host memory/);
        assert.match(m, /the wasm heap \(at most 0\.5 MiB; wasm32 memory holds 4 GiB at most\)/);
        assert.match(m, /standalone host buffer is capped at 2 MiB/);
        assert.match(m, /several smaller tensors .* GPU device/);
        return true;
      });
    } finally {
      setStandaloneHostLimit(previous);
    }
  });
  assert.throws(() => setStandaloneHostLimit(-1), DeviceError);
});

Deno.test("cpu memory: the runtime refusing a buffer is the same DeviceError", () => {
  const previous = setHostAllocator(null);
  try {
    // 2^52 bytes: no machine grants it. Where the runtime reports the machine's memory, the
    // size check refuses it first; elsewhere V8 throws a RangeError, which becomes the same
    // typed error.
    const machine = (() => {
      try {
        return Deno.systemMemoryInfo().total > 0;
      } catch {
        return false;
      }
    })();
    assert.throws(() => Tensor.empty([2 ** 50], "f32"), (e: unknown) => {
      assert.ok(e instanceof DeviceError, String(e));
      assert.match(
        (e as Error).message,
        machine ? /of memory in all/ : /placed outside the heap, and the runtime refused/,
      );
      return true;
    });
  } finally {
    setHostAllocator(previous);
  }
});

Deno.test("cpu memory: outsideHeap places storages beside the heap, then restores", () => {
  const w = outsideHeap(() => ones([64, 64]));
  assert.equal(allocatorOf(w), null);
  assert.throws(() =>
    outsideHeap(() => { // restored after a throw
      throw new Error("boom");
    })
  );
  const a = ones([64, 64]);
  assert.equal(allocatorOf(a), loadRuntime().heap);
  assert.equal(w.matmul(a).sum().item(), 64 * 64 * 64);
  w.dispose();
  a.dispose();
});

/** Run `src` (a module with `$ROOT` for the repository root URL) in a fresh process. */
async function runFresh(src: string, env: Record<string, string>): Promise<string> {
  const root = new URL("../../", import.meta.url);
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/main.js`;
    Deno.writeTextFileSync(file, src.replaceAll("$ROOT", root.href));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", new URL("deno.json", root).pathname, "-A", file],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, stdout + new TextDecoder().decode(out.stderr));
    return stdout;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const FRESH = (n: number, elems: number) => `
import { full, wasmHeapStats } from "$ROOT/mod.ts";
const t0 = performance.now();
const parts = [];
for (let i = 0; i < ${n}; i++) parts.push(full([${elems}], i + 1));
const inHeap = parts.filter((p) => p.storage.allocator !== null).length;
const sums = parts.map((p) => p.sum().item());
const s = wasmHeapStats();
console.log(JSON.stringify({ inHeap, beside: parts.length - inHeap, sums, memoryBytes: s.memoryBytes,
  ms: Math.round(performance.now() - t0) }));
`;

Deno.test("cpu memory: the real runtime with a 16 MiB heap holds and computes on 24 MiB", async () => {
  const out = await runFresh(FRESH(6, MiB), { APRENDER_WASM_HEAP_MAX_MIB: "16" }); // 6 × 4 MiB
  const r = JSON.parse(out.trim().split("\n").at(-1)!);
  assert.ok(r.memoryBytes <= 16 * MiB, `heap grew to ${r.memoryBytes}`);
  assert.ok(r.inHeap >= 1 && r.beside >= 2, out);
  assert.deepEqual(r.sums, [1, 2, 3, 4, 5, 6].map((v) => v * MiB));
});

Deno.test({
  name: "cpu memory: > 4 GiB of CPU tensors (4 GiB heap full, 1 GiB beside) [APRENDER_BIG_MEMORY]",
  ignore: Deno.env.get("APRENDER_BIG_MEMORY") !== "1",
  async fn() {
    // 5 × 1 GiB f32 tensors of 2^28 elements: the heap takes three (its 4 GiB less the module's
    // stack and data leaves no room for a fourth), the rest live beside it.
    const out = await runFresh(FRESH(5, 2 ** 28), {});
    console.log(out.trim());
    const r = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.ok(r.memoryBytes <= 4 * 2 ** 30);
    assert.ok(r.beside >= 1 && r.inHeap + r.beside === 5, out);
    assert.deepEqual(r.sums, [1, 2, 3, 4, 5].map((v) => v * 2 ** 28));
  },
});

// wasmHeapStats is the public view of the same heap the tests above swap out and back.
Deno.test("cpu memory: the installed heap reports a 4 GiB limit by default", () => {
  assert.equal(loadRuntime().heap.limitBytes, 4 * 2 ** 30);
  assert.ok(wasmHeapStats()!.memoryBytes <= 4 * 2 ** 30);
});
