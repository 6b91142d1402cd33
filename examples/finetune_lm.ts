/**
 * Fine-tune a llama GGUF model (by default the bundled `models/kjv-llama-q8_0.gguf`) for a few
 * steps on your own text, then write a new F32 GGUF (and a Q8_0 copy) that llama.cpp and our
 * engine run: training and inference meeting in one file.
 *
 *   deno run -A examples/finetune_lm.ts --text my.txt [--model M.gguf] [--out out.gguf]
 *     [--steps 50] [--lr 1e-3] [--batch 8] [--seq 64] [--seed 1] [--prompt "And"]
 *
 * The weights are dequantized to f32 for training; the tokenizer is the model's own.
 *
 * @module
 */
import { nn, optim, quantizeGguf, seed, tidy } from "../mod.ts";
import { Tokenizer } from "../llm/mod.ts";
import { exportLlamaGguf, loadLlamaGguf } from "../llm/train/mod.ts";
import { batchOffsets, windows } from "./train_lm.ts";

/** Settings of {@link finetune}. */
export interface FinetuneArgs {
  /** The GGUF model to start from. */
  model: string;
  /** The user's text. */
  text: string;
  /** Output F32 GGUF path (a Q8_0 copy goes next to it). */
  out: string;
  /** Optimizer steps. */
  steps: number;
  /** Learning rate (constant, AdamW). */
  lr: number;
  /** Sequences per step. */
  batch: number;
  /** Tokens per sequence (at most the model's context). */
  seq: number;
  /** Seed. */
  seed: number;
  /** Prompt of the before/after sample. */
  prompt: string;
}

/** Fine-tune; returns the losses and the before/after samples. */
export async function finetune(
  a: FinetuneArgs,
  log: (m: string) => void = (m) => console.error(m),
): Promise<{ losses: number[]; before: string; after: string; files: string[] }> {
  const { model, tokenizer, vocab, name } = await loadLlamaGguf(a.model);
  const tok = new Tokenizer(vocab);
  const ids = Int32Array.from(tok.encode(a.text, { addSpecial: false }));
  const T = Math.min(a.seq, model.config.context, ids.length - 1);
  if (T < 2) throw new Error(`finetune: the text has ${ids.length} tokens; give a longer one.`);
  log(`${a.model}: ${model.countParameters()} parameters; ${ids.length} tokens of text`);
  const prompt = tok.encode(a.prompt, { addSpecial: false });
  const before = tok.decode(model.greedy(prompt, 32));
  seed(a.seed);
  const opt = new optim.AdamW(model.parameters(), { lr: a.lr, weightDecay: 0 });
  const losses: number[] = [];
  model.train();
  for (let s = 0; s < a.steps; s++) {
    const { x, y } = windows(ids, batchOffsets(a.seed, s, a.batch, ids.length - T - 1), T);
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = nn.crossEntropy(
        model.call(x).reshape([a.batch * T, model.config.vocabSize]),
        y,
      );
      l.backward();
      return l.item() as number;
    });
    optim.clipGradNorm(model.parameters(), 1.0);
    opt.step();
    x.dispose(), y.dispose();
    losses.push(loss);
    if ((s + 1) % 10 === 0 || s === 0 || s + 1 === a.steps) {
      log(`step ${s + 1}/${a.steps}: loss ${loss.toFixed(4)}`);
    }
  }
  const after = tok.decode(model.greedy(prompt, 32));
  await exportLlamaGguf(a.out, model, {
    tokenizer: tokenizer,
    name: `${name ?? "model"} (fine-tuned)`,
  });
  const q8 = a.out.replace(/(\.gguf)?$/, "-q8_0.gguf");
  await quantizeGguf(a.out, q8, { type: "q8_0" });
  model.dispose();
  return { losses, before, after, files: [a.out, q8] };
}

/** Parse `--key value` options over the defaults. */
function parse(argv: string[]): FinetuneArgs {
  const a: FinetuneArgs = {
    model: "models/kjv-llama-q8_0.gguf",
    text: "",
    out: "finetuned.gguf",
    steps: 50,
    lr: 1e-3,
    batch: 8,
    seq: 64,
    seed: 1,
    prompt: "And",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, "") as keyof FinetuneArgs, v = argv[i + 1];
    if (!(k in a) || v === undefined) throw new Error(`bad option ${argv[i]} (see the header)`);
    (a as unknown as Record<string, unknown>)[k] = typeof a[k] === "number" ? Number(v) : v;
  }
  return a;
}

if (import.meta.main) {
  const a = parse(Deno.args);
  if (!a.text) {
    console.error("usage: deno run -A examples/finetune_lm.ts --text FILE [--model M.gguf] ...");
    Deno.exit(2);
  }
  const r = await finetune({ ...a, text: await Deno.readTextFile(a.text) });
  console.log(`before: ${a.prompt}${r.before}\nafter:  ${a.prompt}${r.after}`);
  console.log(`wrote ${r.files.join(", ")}`);
}
