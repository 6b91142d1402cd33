/**
 * `deno task train:fashion`: train a small CNN on Fashion-MNIST (Debian's
 * `dataset-fashion-mnist`, IDX files read with `loadIdx`) with one-cycle AdamW, a progress bar,
 * a test evaluation and a checkpoint at each epoch end, `--resume` from that checkpoint, and
 * loss/accuracy curves written as an SVG. `--help` lists the options.
 *
 * @module
 */
import { memory, nn, noGrad, optim, ready, seed, tidy } from "../mod.ts";
import { parseArgs, type TrainArgs, USAGE, UsageError } from "./fashion/args.ts";
import { batch, epochOrder, loadSplit, type Split } from "./fashion/data.ts";
import { makeModel } from "./fashion/model.ts";
import { Ema, fmtDuration, Progress, type ProgressSink } from "./fashion/progress.ts";
import { type AccuracyPoint, renderCurves } from "./fashion/svg.ts";
import { loadTrainingState, type RunState, saveTrainingState } from "./fashion/state.ts";
import { profileSteps } from "./fashion/profile.ts";

/** What a run did (also written with `--json`). */
export interface RunSummary {
  /** Optimizer steps taken in total (including those before a resume). */
  steps: number;
  /** Steps taken by this process. */
  stepsThisRun: number;
  /** Completed epochs. */
  epochsDone: number;
  /** Train loss of every step since the start of training. */
  losses: number[];
  /** Test accuracy after each completed epoch. */
  accuracy: AccuracyPoint[];
  /** Training throughput of this process (forward, backward, optimizer), samples/s. */
  samplesPerSecond: number;
  /** Seconds spent in training steps by this process. */
  trainSeconds: number;
  /** Seconds spent evaluating. */
  evalSeconds: number;
  /** Wall time of this process, from start to end, seconds. */
  wallSeconds: number;
  /** Seconds per epoch completed by this process (training + evaluation). */
  epochSeconds: number[];
  /** Whether it resumed from a checkpoint. */
  resumed: boolean;
  /** The CPU backend(s) available. */
  backends: string[];
  /** Live tensors after this process's first step and after its last one (steady: equal). */
  liveTensors: [number, number];
}

/** Test accuracy of `model` on `split` (eval mode, no graph, batches of 1000). */
function evaluate(model: nn.Module, split: Split): number {
  model.eval();
  let correct = 0;
  const idx = new Int32Array(Math.min(1000, split.n));
  for (let start = 0; start < split.n; start += 1000) {
    const b = Math.min(1000, split.n - start);
    for (let k = 0; k < b; k++) idx[k] = start + k;
    const { x, y } = batch(split, idx.subarray(0, b));
    correct += tidy(() =>
      noGrad(() => model.call(x).argmax(1).astype("i32").eq(y).sum().item() as number)
    );
    x.dispose();
    y.dispose();
  }
  model.train();
  return correct / split.n;
}

/** Run training with `args`; progress goes to `sink` (stderr by default), messages to `log`. */
export async function train(
  args: TrainArgs,
  options: { sink?: ProgressSink; log?: (msg: string) => void } = {},
): Promise<RunSummary> {
  const t0 = performance.now();
  const list = await ready();
  const present = list.filter((b) => b.status === "available").map((b) => b.name);
  const log = options.log ?? ((m: string) => console.error(m));
  log(
    `backends: ${
      list.map((b) => `${b.name} (${b.status === "available" ? "ok" : b.reason})`).join(", ")
    }`,
  );

  const tl = performance.now();
  const [trainSet, testSet] = await Promise.all([
    loadSplit(args.data, "train", args.trainLimit),
    loadSplit(args.data, "t10k", args.testLimit),
  ]);
  log(
    `data: ${trainSet.n} train / ${testSet.n} test images from ${args.data} ` +
      `(${((performance.now() - tl) / 1000).toFixed(1)} s)`,
  );
  const stepsPerEpoch = Math.floor(trainSet.n / args.batchSize);
  if (stepsPerEpoch < 1) {
    throw new UsageError(`--batch-size ${args.batchSize} is larger than the ${trainSet.n} images.`);
  }
  const scheduleSteps = stepsPerEpoch * args.epochs;

  seed(args.seed);
  const model = makeModel();
  const lossFn = new nn.CrossEntropyLoss();
  const opt = new optim.AdamW(model.parameters(), { lr: args.lr, weightDecay: 1e-4 });
  const sched = new optim.OneCycleLR(opt, { maxLr: args.lr, totalSteps: scheduleSteps });

  const st: RunState = { step: 0, losses: [], accuracy: [], ema: { v: 0, n: 0 } };
  let resumed = false;
  if (args.resume) {
    Object.assign(st, await loadTrainingState(args.checkpoint, args, { model, opt, sched }));
    resumed = true;
    log(
      `resumed from ${args.checkpoint}: step ${st.step}/${scheduleSteps}, ` +
        `${st.accuracy.length} epoch(s) done`,
    );
  }
  const ema = new Ema();
  ema.load(st.ema);

  const lastStep = args.maxSteps > 0 ? Math.min(args.maxSteps, scheduleSteps) : scheduleSteps;
  const progress = new Progress({
    epochs: args.epochs,
    stepsPerEpoch,
    totalSteps: lastStep,
    batchSize: args.batchSize,
    mode: args.progress,
    sink: options.sink,
  });
  log(
    `model: ${
      model.parameters().reduce((a, p) => a + p.size, 0)
    } parameters; ${args.epochs} epoch(s) × ${stepsPerEpoch} ` +
      `steps of ${args.batchSize}, AdamW + one-cycle (max lr ${args.lr})` +
      (lastStep < scheduleSteps ? `, stopping at step ${lastStep}` : ""),
  );

  let trainMs = 0, evalMs = 0, samples = 0;
  const startStep = st.step;
  const epochSeconds: number[] = [];
  const live: [number, number] = [0, 0];
  model.train();
  const save = async (epochsDone: number) => {
    if (!args.checkpoint) return;
    st.ema = ema.state();
    await saveTrainingState(args.checkpoint, args, { model, opt, sched }, st, epochsDone);
  };

  for (let epoch = Math.floor(st.step / stepsPerEpoch); epoch < args.epochs; epoch++) {
    if (st.step >= lastStep) break;
    const te = performance.now();
    const order = epochOrder(trainSet.n, args.seed, epoch);
    const first = st.step - epoch * stepsPerEpoch;
    progress.startEpoch(epoch + 1, first);
    let stopped = false;
    for (let i = first; i < stepsPerEpoch; i++) {
      if (st.step >= lastStep) {
        stopped = true;
        break;
      }
      const ts = performance.now();
      const { x, y } = batch(
        trainSet,
        order.subarray(i * args.batchSize, (i + 1) * args.batchSize),
      );
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = lossFn.call(model.call(x), y);
        l.backward();
        return l.item() as number;
      });
      opt.step();
      sched.step();
      x.dispose();
      y.dispose();
      trainMs += performance.now() - ts;
      samples += args.batchSize;
      st.step++;
      st.losses.push(loss);
      if (!Number.isFinite(loss)) {
        throw new Error(`the loss is ${loss} at step ${st.step}: training diverged (lower --lr).`);
      }
      progress.step(st.step, ema.push(loss));
      live[st.step === startStep + 1 ? 0 : 1] = memory().tensors;
    }
    progress.endEpoch();
    if (stopped || st.step < (epoch + 1) * stepsPerEpoch) {
      await save(epoch);
      log(`stopped at step ${st.step} (--max-steps); checkpoint ${args.checkpoint || "(none)"}`);
      break;
    }
    const tv = performance.now();
    const acc = evaluate(model, testSet);
    evalMs += performance.now() - tv;
    st.accuracy.push({ step: st.step, epoch: epoch + 1, accuracy: acc });
    await save(epoch + 1);
    const secs = (performance.now() - te) / 1000;
    epochSeconds.push(secs);
    progress.log(
      `epoch ${epoch + 1}/${args.epochs}: test accuracy ${(acc * 100).toFixed(2)}%, ` +
        `loss (EMA) ${ema.value.toFixed(4)}, ${fmtDuration(secs)} ` +
        `(${progress.samplesPerSecond.toFixed(0)} samples/s)` +
        (args.checkpoint ? `, saved ${args.checkpoint}` : ""),
    );
  }

  if (args.svg) {
    await Deno.writeTextFile(
      args.svg,
      renderCurves({
        losses: st.losses,
        accuracy: st.accuracy,
        totalSteps: scheduleSteps,
        title: `Fashion-MNIST CNN: ${args.epochs} epoch(s), batch ${args.batchSize}, ` +
          `max lr ${args.lr}`,
      }),
    );
  }
  const summary: RunSummary = {
    steps: st.step,
    stepsThisRun: st.step - startStep,
    epochsDone: st.accuracy.length,
    losses: st.losses,
    accuracy: st.accuracy,
    samplesPerSecond: trainMs > 0 ? samples / (trainMs / 1000) : 0,
    trainSeconds: trainMs / 1000,
    evalSeconds: evalMs / 1000,
    wallSeconds: (performance.now() - t0) / 1000,
    epochSeconds,
    resumed,
    backends: present,
    liveTensors: [live[0], st.step > startStep + 1 ? live[1] : live[0]],
  };
  model.dispose();
  lossFn.dispose();
  return summary;
}

if (import.meta.main) {
  let args: TrainArgs;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (args.profile > 0) {
    await profileSteps(args);
    Deno.exit(0);
  }
  const s = await train(args);
  const last = s.accuracy.at(-1);
  console.log(
    `done: ${s.steps} steps, ${s.epochsDone} epoch(s); ` +
      (last ? `test accuracy ${(last.accuracy * 100).toFixed(2)}%; ` : "") +
      `${s.samplesPerSecond.toFixed(0)} samples/s (training), ` +
      `wall ${fmtDuration(s.wallSeconds)}; backends ${s.backends.join(", ")}` +
      (args.svg ? `; curves in ${args.svg}` : ""),
  );
  if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(s));
}
