/**
 * Command-line options of `deno task train:lm`.
 *
 * @module
 */

/** Everything a training run is configured by. */
export interface LmArgs {
  /** Corpus cache folder (train.txt, heldout.txt, ids). */
  data: string;
  /** Output folder of the GGUF files, curve and summary. */
  out: string;
  /** Checkpoint path ("" for none). */
  checkpoint: string;
  /** Resume from the checkpoint. */
  resume: boolean;
  /** Optimizer steps of the schedule. */
  steps: number;
  /** Stop after this step (0: run the whole schedule); the checkpoint allows a resume. */
  maxSteps: number;
  /** Sequences per step. */
  batch: number;
  /** Tokens per sequence (also the model's context). */
  seq: number;
  /** Peak learning rate (one-cycle). */
  lr: number;
  /** Seed of the weights and the batches. */
  seed: number;
  /** Vocabulary size of the BPE tokenizer. */
  vocab: number;
  /** Model width. */
  dim: number;
  /** Blocks. */
  layers: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** SwiGLU hidden width. */
  ffn: number;
  /** Save a checkpoint every this many steps. */
  saveEvery: number;
  /** Held-out tokens scored at the end (0: all). */
  evalTokens: number;
  /** Progress display. */
  progress: "auto" | "bar" | "lines" | "none";
  /** Print usage. */
  help: boolean;
}

/** The defaults: the bundled model's configuration. */
export const LM_DEFAULTS: Readonly<LmArgs> = {
  data: ".cache/lm",
  out: "models",
  checkpoint: ".cache/lm/train_lm.ckpt",
  resume: false,
  steps: 1500,
  maxSteps: 0,
  batch: 16,
  seq: 128,
  lr: 3e-3,
  seed: 15,
  vocab: 1024,
  dim: 256,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  ffn: 768,
  saveEvery: 100,
  evalTokens: 0,
  progress: "auto",
  help: false,
};

/** Usage text. */
export const LM_USAGE = `Train the bundled llama-architecture model on the King James Bible.

deno task train:lm [options]
  --data DIR        corpus cache (default ${LM_DEFAULTS.data}); needs the 'bible' command
                    (apt-get install -y bible-kjv bible-kjv-text) the first time
  --out DIR         where the GGUF files, loss curve and summary go (default ${LM_DEFAULTS.out})
  --checkpoint P    checkpoint path (default ${LM_DEFAULTS.checkpoint}; "" for none)
  --resume          continue from the checkpoint
  --steps N         steps of the schedule (default ${LM_DEFAULTS.steps})
  --max-steps N     stop after step N (default: run the whole schedule)
  --batch N --seq N sequences per step and their length (default ${LM_DEFAULTS.batch} × ${LM_DEFAULTS.seq})
  --lr X --seed N   peak learning rate, seed (default ${LM_DEFAULTS.lr}, ${LM_DEFAULTS.seed})
  --vocab N --dim N --layers N --heads N --kv-heads N --ffn N   model shape
  --save-every N    checkpoint interval in steps (default ${LM_DEFAULTS.saveEvery})
  --eval-tokens N   held-out tokens scored at the end (default: all)
  --progress MODE   auto | bar | lines | none
`;

/** Parse argv; throws Error with a hint on a bad option. */
export function parseLmArgs(argv: readonly string[]): LmArgs {
  const a: LmArgs = { ...LM_DEFAULTS };
  const nums: Record<string, keyof LmArgs> = {
    "--steps": "steps",
    "--max-steps": "maxSteps",
    "--batch": "batch",
    "--seq": "seq",
    "--lr": "lr",
    "--seed": "seed",
    "--vocab": "vocab",
    "--dim": "dim",
    "--layers": "layers",
    "--heads": "heads",
    "--kv-heads": "kvHeads",
    "--ffn": "ffn",
    "--save-every": "saveEvery",
    "--eval-tokens": "evalTokens",
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === "--help" || k === "-h") a.help = true;
    else if (k === "--resume") a.resume = true;
    else if (k in nums || ["--data", "--out", "--checkpoint", "--progress"].includes(k)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      if (k in nums) {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error(`${k} ${v}: expected a number ≥ 0`);
        (a as unknown as Record<string, number>)[nums[k]] = n;
      } else if (k === "--progress") {
        if (!["auto", "bar", "lines", "none"].includes(v)) {
          throw new Error(`--progress ${v}: expected auto, bar, lines or none`);
        }
        a.progress = v as LmArgs["progress"];
      } else (a as unknown as Record<string, string>)[k.slice(2)] = v;
    } else throw new Error(`unknown option ${k}`);
  }
  return a;
}
