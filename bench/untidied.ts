/**
 * Issue 19 class 13: `matmul(relu(matmul(X, W1)), W2)` (the MLP bench shapes, 64×784→256→10)
 * with intermediates left to the finalizer, inside `tidy`, and disposed by hand; then the same
 * untidied loop with the GC given a chance between rounds. Prints µs per call (median of 5
 * rounds of N calls) and live tensors / bytes after the untidied rounds.
 *
 *   nice deno run -A --v8-flags=--expose-gc bench/untidied.ts [N]
 */
import { matmul, memory, randn, relu, tidy } from "../mod.ts";

const N = Number(Deno.args[0] ?? 200);
const X = randn([64, 784]), W1 = randn([784, 256]), W2 = randn([256, 10]);
const gc = (globalThis as { gc?: () => void }).gc;

function time(f: () => void): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) f();
    rounds.push((performance.now() - t0) * 1000 / N);
  }
  return rounds.sort((a, b) => a - b)[2];
}

const tidied = time(() => tidy(() => matmul(relu(matmul(X, W1)), W2)).dispose());
const manual = time(() => {
  const h = matmul(X, W1), r = relu(h), y = matmul(r, W2);
  h.dispose();
  r.dispose();
  y.dispose();
});
const before = memory();
const untidied = time(() => void matmul(relu(matmul(X, W1)), W2));
const after = memory();
gc?.();
await new Promise((r) => setTimeout(r, 100));
const collected = memory();
const untidiedGc = time(() => {
  void matmul(relu(matmul(X, W1)), W2);
});
console.log(
  `tidy ${tidied.toFixed(0)} µs, manual dispose ${manual.toFixed(0)} µs, untidied ` +
    `${untidied.toFixed(0)} µs (${(untidied / tidied).toFixed(2)}× tidy), untidied again ` +
    `${untidiedGc.toFixed(0)} µs; live tensors ${before.tensors} → ${after.tensors} after ` +
    `${5 * N} untidied calls (${((after.devices.cpu?.bytes ?? 0) / 2 ** 20).toFixed(0)} MiB), ` +
    `${collected.tensors} after gc()`,
);
