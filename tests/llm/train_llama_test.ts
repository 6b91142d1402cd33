import assert from "node:assert/strict";
import {
  fromTyped,
  nn,
  noGrad,
  openGguf,
  optim,
  quantizeGguf,
  readAsF32,
  seed,
  tidy,
} from "../../mod.ts";
import { Tokenizer } from "../../llm/mod.ts";
import { bpeMetadata, exportLlamaGguf, ggufName, Llama, trainBpe } from "../../llm/train/mod.ts";
import { HAS_LLAMA_CPP, llamaGreedy, meanNll } from "../helpers/llama_refs.ts";
import { KJV_SAMPLE } from "./kjv_sample.ts";

const CONFIG = { dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 96, context: 96 };

/** A small model trained for a few steps on the sample, so its weights are not the init's. */
function trainedModel(): { model: Llama; tok: Tokenizer; meta: Record<string, unknown> } {
  const bpe = trainBpe(KJV_SAMPLE, { vocabSize: 400 });
  const meta = bpeMetadata(bpe);
  const tok = new Tokenizer(meta);
  const ids = Int32Array.from(tok.encode(KJV_SAMPLE));
  seed(7);
  const model = new Llama({ vocabSize: bpe.tokens.length, ...CONFIG });
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
  const T = 32, B = 4;
  for (let s = 0; s < 30; s++) {
    const x = new Int32Array(B * T), y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const o = (s * 997 + b * 331) % (ids.length - T - 1);
      x.set(ids.subarray(o, o + T), b * T);
      y.set(ids.subarray(o + 1, o + T + 1), b * T);
    }
    const xt = fromTyped(x, [B, T], "i32"), yt = fromTyped(y, [B * T], "i32");
    tidy(() => {
      opt.zeroGrad();
      nn.crossEntropy(model.call(xt).reshape([B * T, bpe.tokens.length]), yt).backward();
    });
    opt.step();
    xt.dispose(), yt.dispose();
  }
  return { model, tok, meta };
}

function ourLogits(model: Llama, ids: number[]): Float32Array {
  return noGrad(() => {
    const x = fromTyped(Int32Array.from(ids), [1, ids.length], "i32");
    const l = model.call(x);
    const d = l.dataSync() as Float32Array;
    x.dispose(), l.dispose();
    return d;
  });
}

function compare(label: string, path: string, model: Llama, tok: Tokenizer, tol: number) {
  const prompt = tok.encode("And God said, Let the waters", { addSpecial: false });
  const ref = llamaGreedy(path, prompt, 64);
  const ours = model.greedy(prompt, 64);
  assert.deepEqual(ours, ref.greedy, `${label}: greedy continuation`);
  const all = [...prompt, ...ours];
  const V = model.config.vocabSize;
  const lo = ourLogits(model, prompt);
  let maxd = 0, scale = 0;
  for (let t = 0; t < prompt.length; t++) {
    for (let v = 0; v < V; v++) {
      const d = Math.abs(lo[t * V + v] - ref.logits[t][v]);
      assert.ok(!Number.isNaN(d), `${label}: NaN logit at ${t}, ${v}`);
      maxd = Math.max(maxd, d);
      scale = Math.max(scale, Math.abs(ref.logits[t][v]));
    }
  }
  console.log(
    `${label}: max |logit difference| ${maxd.toExponential(2)}, max |logit| ${scale.toFixed(2)}`,
  );
  assert.ok(
    maxd <= tol,
    `${label}: max |logit difference| ${maxd} > ${tol} (max |logit| ${scale})`,
  );
  // perplexity over the prompt + continuation (llama.cpp's logits: prompt, then one per step)
  const full = llamaGreedy(path, all, 1);
  const la = ourLogits(model, all);
  const a = meanNll((t) => la.subarray(t * V, (t + 1) * V), all);
  const b = meanNll((t) => full.logits[t], all);
  assert.ok(Math.abs(Math.exp(a) / Math.exp(b) - 1) < 0.01, `${label}: perplexity ${a} vs ${b}`);
  return { maxd, text: tok.decode(ours) };
}

Deno.test({
  name:
    "exported llama GGUF: llama.cpp's logits and 64-token greedy continuation match ours (F32, Q8_0)",
  ignore: !HAS_LLAMA_CPP,
  async fn() {
    const dir = await Deno.makeTempDir();
    const { model, tok, meta } = trainedModel();
    try {
      const f32 = `${dir}/m-f32.gguf`, q8 = `${dir}/m-q8_0.gguf`;
      await exportLlamaGguf(f32, model, { tokenizer: meta });
      // F32: the same numbers up to summation order (measured 1.4e-6 with logits up to 4.8)
      compare("f32", f32, model, tok, 1e-4);
      // Q8_0: our forward on the dequantized weights vs llama.cpp's q8_0 kernels (which also
      // round the activations to q8_0 blocks)
      await quantizeGguf(f32, q8, { type: "q8_0" });
      using f = await openGguf(q8);
      const sd = model.stateDict();
      noGrad(() => {
        for (const [k, t] of Object.entries(sd)) {
          const w = readAsF32(f, ggufName(k));
          (t.dataSync() as Float32Array).set(w);
        }
      });
      // (measured 2.9e-2 with logits up to 4.8)
      compare("q8_0", q8, model, tok, 0.1);
    } finally {
      model.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
