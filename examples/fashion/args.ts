/**
 * Command-line options of `deno task train:fashion` (a small strict parser: unknown flags and
 * malformed values are errors, so a typo never silently trains with the defaults).
 *
 * @module
 */

/** Options of one training run. */
export interface TrainArgs {
  /** Epochs of the whole schedule (the learning-rate schedule spans them all). */
  epochs: number;
  /** Mini-batch size (the last partial batch of an epoch is dropped). */
  batchSize: number;
  /** Peak learning rate of the one-cycle schedule (AdamW). */
  lr: number;
  /**
   * Stop after this many optimizer steps in total (0: no limit). The schedule still spans
   * `epochs`, so a run stopped here and resumed later is the same as one uninterrupted run.
   */
  maxSteps: number;
  /** Continue from `checkpoint` (model, optimizer, scheduler, step, history). */
  resume: boolean;
  /** Checkpoint file, written at each epoch end and when stopping at `maxSteps`. */
  checkpoint: string;
  /** Where to write the loss/accuracy SVG ("" to skip). */
  svg: string;
  /** Seed of the weight initialization and of the per-epoch shuffles. */
  seed: number;
  /** Folder holding the four `*-ubyte.gz` files. */
  data: string;
  /** Use only the first N training images (0: all); for quick runs and tests. */
  trainLimit: number;
  /** Use only the first N test images (0: all). */
  testLimit: number;
  /** Progress display: "auto" (a bar on a terminal, plain lines otherwise), "bar", "lines", "none". */
  progress: "auto" | "bar" | "lines" | "none";
  /** Write a JSON summary of the run here ("" to skip). */
  json: string;
  /** Print a per-kernel profile (op → backend, calls, time) of a few training steps and exit. */
  profile: number;
  /** Show the usage text and exit. */
  help: boolean;
}

/** The defaults: reach ≥ 90% test accuracy in a few minutes on a 2-core CPU. */
export const DEFAULTS: Readonly<TrainArgs> = {
  epochs: 3,
  batchSize: 64,
  lr: 3e-3,
  maxSteps: 0,
  resume: false,
  checkpoint: "fashion_cnn.safetensors",
  svg: "fashion_curves.svg",
  seed: 0,
  data: "/usr/share/datasets/fashion-mnist",
  trainLimit: 0,
  testLimit: 0,
  progress: "auto",
  json: "",
  profile: 0,
  help: false,
};

/** Usage text. */
export const USAGE = `Train a small CNN on Fashion-MNIST.

Usage: deno task train:fashion [options]

  --epochs N          epochs of the schedule (default ${DEFAULTS.epochs})
  --batch-size N      mini-batch size (default ${DEFAULTS.batchSize})
  --lr X              peak learning rate of the one-cycle AdamW schedule (default ${DEFAULTS.lr})
  --max-steps N       stop after N optimizer steps in total, saving a checkpoint (default: no limit)
  --resume            continue from --checkpoint
  --checkpoint PATH   checkpoint file (default ${DEFAULTS.checkpoint})
  --svg PATH          loss/accuracy curves ("" to skip; default ${DEFAULTS.svg})
  --seed N            seed of the initialization and the shuffles (default ${DEFAULTS.seed})
  --data DIR          folder of the *-ubyte.gz files (default ${DEFAULTS.data})
  --train-limit N     use only the first N training images (default: all)
  --test-limit N      use only the first N test images (default: all)
  --progress MODE     auto | bar | lines | none (default auto: a bar on a terminal)
  --json PATH         write a JSON summary of the run
  --profile N         time N training steps per kernel (op → backend) and exit
  -h, --help          this text
`;

/** A bad command line. */
export class UsageError extends Error {
  /** Create the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Kind = "int" | "num" | "str" | "flag" | "progress";
const FLAGS: Record<string, [keyof TrainArgs, Kind]> = {
  "--epochs": ["epochs", "int"],
  "--batch-size": ["batchSize", "int"],
  "--lr": ["lr", "num"],
  "--max-steps": ["maxSteps", "int"],
  "--resume": ["resume", "flag"],
  "--checkpoint": ["checkpoint", "str"],
  "--svg": ["svg", "str"],
  "--seed": ["seed", "int"],
  "--data": ["data", "str"],
  "--train-limit": ["trainLimit", "int"],
  "--test-limit": ["testLimit", "int"],
  "--progress": ["progress", "progress"],
  "--json": ["json", "str"],
  "--profile": ["profile", "int"],
  "--help": ["help", "flag"],
  "-h": ["help", "flag"],
};

/** Parse `argv` (`--flag value` or `--flag=value`); throws {@link UsageError} on bad input. */
export function parseArgs(argv: readonly string[]): TrainArgs {
  const out: TrainArgs = { ...DEFAULTS };
  const rec = out as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const spec = FLAGS[arg];
    if (!spec) throw new UsageError(`unknown option ${JSON.stringify(arg)}; see --help.`);
    const [key, kind] = spec;
    if (kind === "flag") {
      if (value !== undefined) throw new UsageError(`${arg} takes no value.`);
      rec[key] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value.`);
      value = argv[++i];
    }
    if (kind === "str") rec[key] = value;
    else if (kind === "progress") {
      if (!["auto", "bar", "lines", "none"].includes(value)) {
        throw new UsageError(`${arg} must be auto, bar, lines or none, got ${value}.`);
      }
      rec[key] = value;
    } else {
      const x = Number(value);
      const ok = value.trim() !== "" && Number.isFinite(x) &&
        (kind === "num" ? x > 0 : Number.isSafeInteger(x) && x >= 0);
      if (!ok) {
        throw new UsageError(
          `${arg} must be ${kind === "num" ? "a positive number" : "an integer ≥ 0"}, got ` +
            `${JSON.stringify(value)}.`,
        );
      }
      rec[key] = x;
    }
  }
  if (out.epochs < 1) throw new UsageError("--epochs must be at least 1.");
  if (out.batchSize < 1) throw new UsageError("--batch-size must be at least 1.");
  if (out.resume && !out.checkpoint) throw new UsageError("--resume needs a --checkpoint path.");
  return out;
}
