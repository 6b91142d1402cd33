/**
 * `deno task train:lm`: train the bundled llama-architecture model on the King James Bible
 * (Debian's `bible-kjv-text`): a byte-level BPE tokenizer trained on the corpus, then AdamW with a
 * warm-up + cosine schedule on random windows of the token stream, a progress bar, checkpoints and
 * `--resume`, the held-out perplexity at the end, an SVG loss curve, and the model exported as
 * GGUF (F32, Q8_0, Q4_K). Seeded: the same command gives the same bytes on the same machine.
 * `--help` lists the options.
 *
 * @module
 */
import {
  fromTyped,
  Generator,
  loadCheckpoint,
  nn,
  noGrad,
  optim,
  quantizeGguf,
  saveCheckpoint,
  seed,
  tidy,
} from "../mod.ts";
import { createHash } from "node:crypto";
import type { Tensor } from "../mod.ts";
import { Tokenizer } from "../llm/mod.ts";
import {
  bpeMetadata,
  exportLlamaGguf,
  Llama,
  trainBpe,
  type TrainedBpe,
} from "../llm/train/mod.ts";
import { LM_USAGE, type LmArgs, parseLmArgs } from "./lm/args.ts";
import { loadCorpus } from "./lm/corpus.ts";
import { Ema, fmtDuration, Progress, type ProgressSink } from "./fashion/progress.ts";
import { renderCurves } from "./fashion/svg.ts";

/** What a run did. */
export interface LmSummary {
  /** Steps taken in total. */
  steps: number;
  /** Train loss of every step. */
  losses: number[];
  /** Held-out perplexity (NaN when the run stopped early). */
  perplexity: number;
  /** Held-out mean negative log-likelihood, nats per token. */
  heldoutNll: number;
  /** Training tokens per second in this process. */
  tokensPerSecond: number;
  /** Parameters. */
  params: number;
  /** Files written. */
  files: string[];
  /** sha256 (hex) of every parameter's bytes at the end, in `parameters()` order: a run repeats
   * another bit for bit exactly when these agree. */
  weightsSha256: string;
}

/** sha256 (hex) of the parameters' bytes, in order. */
function weightsDigest(params: readonly Tensor[]): string {
  const h = createHash("sha256");
  for (const p of params) {
    const d = p.dataSync();
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest("hex");
}

/** Start offsets of step `step`'s sequences: uniform over the stream, from (seed, step). */
export function batchOffsets(seedValue: number, step: number, n: number, max: number): number[] {
  const g = new Generator((BigInt(seedValue) << 32n) + BigInt(step));
  const u = g.rand([n], { dtype: "f64" });
  const r = Array.from(u.dataSync() as Float64Array, (x) => Math.floor(x * max));
  u.dispose();
  return r;
}

/** Inputs and targets (B, T) i32 of the windows at `offsets`. */
export function windows(ids: Int32Array, offsets: number[], T: number) {
  const x = new Int32Array(offsets.length * T), y = new Int32Array(offsets.length * T);
  offsets.forEach((o, b) => {
    x.set(ids.subarray(o, o + T), b * T);
    y.set(ids.subarray(o + 1, o + T + 1), b * T);
  });
  return {
    x: fromTyped(x, [offsets.length, T], "i32"),
    y: fromTyped(y, [offsets.length * T], "i32"),
  };
}

/** Mean NLL (nats/token) of consecutive windows of T + 1 tokens of `ids`, each scored on its T targets. */
export function heldoutNll(model: Llama, ids: Int32Array, T: number): number {
  model.eval();
  let sum = 0, n = 0;
  for (let o = 0; o + T + 1 <= ids.length; o += T) {
    const { x, y } = windows(ids, [o], T);
    sum += tidy(() =>
      noGrad(() => {
        const logits = model.call(x).reshape([T, model.config.vocabSize]);
        return nn.crossEntropy(logits, y, { reduction: "sum" }).item() as number;
      })
    );
    n += T;
    x.dispose(), y.dispose();
  }
  model.train();
  return sum / n;
}

/** The trained tokenizer and both splits as token streams (chapters end with end-of-text). */
export interface LmData {
  /** The trained vocabulary. */
  bpe: TrainedBpe;
  /** Our tokenizer over it. */
  tok: Tokenizer;
  /** Training tokens. */
  train: Int32Array;
  /** Held-out tokens. */
  heldout: Int32Array;
}

/** The tokenizer and the token streams of both splits. */
export async function prepareData(
  args: LmArgs,
  corpus?: { train: string; heldout: string },
): Promise<LmData> {
  corpus ??= await loadCorpus(args.data);
  const bpe = trainBpe(corpus.train, { vocabSize: args.vocab });
  const tok = new Tokenizer(bpeMetadata(bpe));
  const stream = (text: string) => {
    const out: number[] = [];
    for (const ch of text.split("\n\n")) out.push(...tok.encode(ch), bpe.eos);
    return Int32Array.from(out);
  };
  return { bpe, tok, train: stream(corpus.train), heldout: stream(corpus.heldout) };
}

/** Settings that a resume must share with the run that wrote the checkpoint. */
const FIXED = [
  "steps",
  "batch",
  "seq",
  "lr",
  "seed",
  "vocab",
  "dim",
  "layers",
  "heads",
  "kvHeads",
  "ffn",
] as const;

/** Run training. */
export async function trainLm(
  args: LmArgs,
  options: { sink?: ProgressSink; log?: (m: string) => void; data?: LmData } = {},
): Promise<LmSummary> {
  const log = options.log ?? ((m: string) => console.error(m));
  const t0 = performance.now();
  const data = options.data ?? await prepareData(args);
  log(
    `data: ${data.train.length} train / ${data.heldout.length} held-out tokens, vocabulary ` +
      `${data.bpe.tokens.length} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  seed(args.seed);
  const model = new Llama({
    vocabSize: data.bpe.tokens.length,
    dim: args.dim,
    layers: args.layers,
    heads: args.heads,
    kvHeads: args.kvHeads,
    ffn: args.ffn,
    context: args.seq,
  });
  const params = model.countParameters();
  const decay = model.parameters().filter((p) => p.ndim >= 2);
  const rest = model.parameters().filter((p) => p.ndim < 2);
  const opt = new optim.AdamW([{ params: decay, weightDecay: 0.1 }, {
    params: rest,
    weightDecay: 0,
  }], {
    lr: args.lr,
    betas: [0.9, 0.95],
  });
  // warm-up then cosine decay to 10%, a function of the step (so a resume needs no state);
  // OneCycleLR here leaves lr NaN after construction (a bug to report to optim/)
  const lrAt = (k: number) => {
    const warm = Math.max(1, Math.round(args.steps * 0.05));
    if (k < warm) return (args.lr * (k + 1)) / warm;
    const t = (k - warm) / Math.max(1, args.steps - warm);
    return args.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, t))));
  };
  let step = 0, losses: number[] = [];
  const ema = new Ema();
  if (args.resume) {
    const ck = await loadCheckpoint(args.checkpoint, { model, optimizer: opt });
    const run = ck.extra?.run as {
      step: number;
      losses: number[];
      ema: { v: number; n: number };
      settings: Record<string, unknown>;
    };
    const diff = FIXED.filter((k) => run?.settings?.[k] !== args[k]);
    if (!run || diff.length) {
      throw new Error(
        `${args.checkpoint}: not a train:lm checkpoint of these settings (${
          diff.join(", ")
        } differ).`,
      );
    }
    step = run.step, losses = run.losses;
    ema.load(run.ema);
    log(`resumed from ${args.checkpoint} at step ${step}/${args.steps}`);
  }
  log(
    `model: llama, ${params} parameters (dim ${args.dim}, ${args.layers} layers, ${args.heads} heads, ` +
      `${args.kvHeads} kv heads, ffn ${args.ffn}, context ${args.seq}); ${args.steps} steps of ` +
      `${args.batch}×${args.seq} tokens, AdamW, warm-up + cosine (max lr ${args.lr})`,
  );
  const save = async () => {
    if (!args.checkpoint) return;
    const dir = args.checkpoint.replace(/[/\\][^/\\]*$/, "");
    if (dir && dir !== args.checkpoint) await Deno.mkdir(dir, { recursive: true });
    const tmp = `${args.checkpoint}.tmp-${Deno.pid}`;
    const settings = Object.fromEntries(FIXED.map((k) => [k, args[k]]));
    await saveCheckpoint(tmp, {
      model,
      optimizer: opt,
      epoch: 0,
      extra: { run: { step, losses, ema: ema.state(), settings } },
    });
    await Deno.rename(tmp, args.checkpoint);
  };
  const last = args.maxSteps > 0 ? Math.min(args.maxSteps, args.steps) : args.steps;
  const progress = new Progress({
    epochs: 1,
    stepsPerEpoch: args.steps,
    totalSteps: last,
    batchSize: args.batch * args.seq, // so its rate reads tokens/s
    mode: args.progress,
    sink: options.sink,
  });
  progress.startEpoch(1, step);
  const T = args.seq, maxOff = data.train.length - T - 1;
  let trainMs = 0, tokens = 0;
  model.train();
  while (step < last) {
    const ts = performance.now();
    const { x, y } = windows(data.train, batchOffsets(args.seed, step, args.batch, maxOff), T);
    const loss = tidy(() => {
      opt.zeroGrad();
      const logits = model.call(x).reshape([args.batch * T, model.config.vocabSize]);
      const l = nn.crossEntropy(logits, y);
      l.backward();
      return l.item() as number;
    });
    optim.clipGradNorm(model.parameters(), 1.0);
    for (const g of opt.paramGroups) g.lr = lrAt(step);
    opt.step();
    x.dispose(), y.dispose();
    trainMs += performance.now() - ts;
    tokens += args.batch * T;
    step++;
    losses.push(loss);
    if (!Number.isFinite(loss)) throw new Error(`loss ${loss} at step ${step}: lower --lr.`);
    progress.step(step, ema.push(loss));
    if (args.saveEvery > 0 && step % args.saveEvery === 0 && step < last) await save();
  }
  progress.endEpoch();
  await save();
  const tokensPerSecond = trainMs > 0 ? tokens / (trainMs / 1000) : 0;
  const files: string[] = [];
  let nll = NaN;
  if (step >= args.steps) {
    const held = args.evalTokens > 0 ? data.heldout.subarray(0, args.evalTokens + 1) : data.heldout;
    const te = performance.now();
    nll = heldoutNll(model, held, T);
    log(
      `held-out: ${held.length - 1} tokens, NLL ${nll.toFixed(4)} nats/token, perplexity ` +
        `${Math.exp(nll).toFixed(2)} (${fmtDuration((performance.now() - te) / 1000)})`,
    );
    const prompt = "And God said";
    const cont = model.greedy(data.tok.encode(prompt), 64);
    log(`sample (greedy, 64 tokens): ${prompt}${data.tok.decode(cont)}`);
    await Deno.mkdir(args.out, { recursive: true });
    const base = `${args.out}/kjv-llama`;
    await exportLlamaGguf(`${base}-f32.gguf`, model, {
      tokenizer: bpeMetadata(data.bpe),
      name: "aprender kjv-llama",
    });
    files.push(`${base}-f32.gguf`);
    for (const q of ["q8_0", "q4_k"] as const) {
      await quantizeGguf(`${base}-f32.gguf`, `${base}-${q}.gguf`, { type: q });
      files.push(`${base}-${q}.gguf`);
    }
    await Deno.writeTextFile(
      `${base}-loss.svg`,
      renderCurves({
        losses,
        accuracy: [],
        totalSteps: args.steps,
        title:
          `kjv-llama: ${params} parameters, ${args.steps} steps of ${args.batch}×${args.seq} ` +
          `tokens; held-out perplexity ${Math.exp(nll).toFixed(2)}`,
      }),
    );
    files.push(`${base}-loss.svg`);
  }
  const weightsSha256 = weightsDigest(model.parameters());
  log(`weights sha256 after step ${step}: ${weightsSha256}`);
  model.dispose();
  return {
    weightsSha256,
    steps: step,
    losses,
    perplexity: Math.exp(nll),
    heldoutNll: nll,
    tokensPerSecond,
    params,
    files,
  };
}

if (import.meta.main) {
  let args: LmArgs;
  try {
    args = parseLmArgs(Deno.args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${LM_USAGE}`);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(LM_USAGE);
    Deno.exit(0);
  }
  const s = await trainLm(args);
  console.log(
    `done: ${s.steps} steps, ${s.tokensPerSecond.toFixed(0)} tokens/s` +
      (Number.isFinite(s.perplexity) ? `, held-out perplexity ${s.perplexity.toFixed(2)}` : "") +
      (s.files.length ? `\n  ${s.files.join("\n  ")}` : ""),
  );
}
