/**
 * `deno task demo`: the probed backends, a short tour computing real things, then text from our
 * own small language model (trained with this library, bundled in models/).
 */
import {
  arange,
  linalg,
  linspace,
  memory,
  onesLike,
  randn,
  ready,
  seed,
  ShapeError,
  stack,
  tensor,
  tidy,
  traceKernels,
} from "../mod.ts";
import { DEFAULT_MODEL, loadModel } from "../llm/mod.ts";

const list = await ready();
console.log("Backends (highest priority first):");
for (const b of list) {
  const caps = b.capabilities;
  const info = b.status === "available"
    ? `${b.kernels} kernels, dtypes ${caps?.dtypes?.join(" ")}, threads ${caps?.threads ?? 1}`
    : `absent: ${b.reason}`;
  console.log(`  ${b.name.padEnd(8)} [${b.device}] ${b.status.padEnd(9)} ${info}`);
}

tidy(() => {
  console.log("\n1. Broadcasting: a (3, 1) column plus a (4,) row gives a (3, 4) table");
  const col = arange(3).reshape([3, 1]).astype("f32");
  const row = linspace(0, 0.75, 4);
  const table = col.add(row);
  console.log(table.toString());

  console.log("\n2. Reductions: column means and the row-wise softmax of the table");
  console.log("mean(axis=0) =", table.mean(0).toString());
  console.log("softmax(axis=1) =", table.softmax(1).toString());

  console.log("\n3. A least-squares fit of y ≈ 2x + 1 with noise (linalg.lstsq)");
  seed(42);
  const x = linspace(0, 1, 200);
  const X = stack([x, onesLike(x)], 1);
  const y = x.mul(2).add(1).add(randn([200]).mul(0.05));
  const { solution } = linalg.lstsq(X, y.unsqueeze(1));
  const [[slope], [intercept]] = solution.toArraySync() as number[][];
  console.log(`slope ${slope.toFixed(3)}, intercept ${intercept.toFixed(3)}`);

  console.log("\n4. Autograd: the gradient of sum(sigmoid(w·x)) with respect to w");
  const w = tensor([0.5, -1, 2]).requireGrad();
  w.mul(tensor([1, 2, 3])).sigmoid().sum().backward();
  console.log("dL/dw =", w.grad!.toString());

  console.log("\n5. Routing: which backend ran each kernel of a small computation");
  const { trace } = traceKernels(() => table.matmul(table.T).exp().sum(1));
  console.log(trace.map((r) => `${r.op}→${r.backend}`).join(", "));

  console.log("\n6. Errors say what was wrong and how to fix it");
  try {
    tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]).matmul(randn([5, 6]));
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    console.log(`${e.name}: ${e.message}`);
  }
});
console.log(
  "\nLive memory after the tour (tidy freed the intermediates):",
  JSON.stringify(memory()),
);

console.log("\n7. Our own language model: trained with this library on the King James Bible");
{
  // `deno task train:lm` trains it (1,836,288 parameters); models/kjv-llama-q8_0.gguf is its Q8_0
  // export, loaded with the packed weights kept packed.
  const model = await loadModel(DEFAULT_MODEL);
  const prompt = "And it came to pass, when the king";
  await Deno.stdout.write(new TextEncoder().encode(prompt));
  for await (
    const piece of model.generate(prompt, { maxTokens: 96, temperature: 0.8, topP: 0.95, seed: 7 })
  ) {
    await Deno.stdout.write(new TextEncoder().encode(piece));
  }
  const s = model.stats!;
  console.log(
    `\n[${s.decodeTokens} tokens at ${(s.decodeTokens / (s.decodeMs / 1000)).toFixed(0)} tok/s ` +
      `on the CPU; prompt ${s.promptTokens} tokens]`,
  );
  model.dispose();
}
