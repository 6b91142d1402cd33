/**
 * Whole models on the GPU (`deno task bench:gpu-models`): ResNet-18 training on CIFAR-10-shaped
 * data (32×32, batch 128, 10 classes), ResNet-50 training (224×224, batch 32), and a BERT-base
 * sized forward pass (12 post-norm `TransformerEncoderLayer`s, d 768, 12 heads, ff 3072, GELU;
 * batch 8, sequence 128), all through our `nn`, autograd and AdamW (lr 1e-4) on the WebGPU
 * backend, next to PyTorch's numbers from bench/gpu_models.py run in the same device call.
 *
 * Each case reports wall time per step (STEPS steps recorded, one readback, median of TRIALS),
 * GPU time per step (timestamp queries around our passes), and a per-op-family GPU profile of one
 * step (every dispatch in its own timed pass). With REF_DIR (from
 * `tests/helpers/resnet_train_ref.py REF_DIR 128 20 cuda`) it also trains ResNet-18 from torch's
 * initial weights on torch's 20 batches and prints the per-step relative loss difference.
 *
 * Mixed precision (after each fp32 case, BENCH_AMP=0 skips them): the same ResNet training with
 * `autocast({ dtype: "f16" })` and `optim.GradScaler` (whose step reads one flag back per step),
 * and the BERT forward under autocast; their ratios use PyTorch's AMP column.
 *
 * Environment: BENCH_SMALL=1 (small sizes, for software adapters), BENCH_SKIP=<names> (skip
 * cases: resnet18, resnet50, bert), TORCH_JSON=<file> (PyTorch's
 * results), REF_DIR=<dir>, OUT=<dir> (writes gpu_models.md and gpu_models.json there).
 *
 * @module
 */
import {
  autocast,
  nn,
  noGrad,
  optim,
  randn,
  ready,
  seed,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";
import { webgpuContext } from "../internal.ts";
import { loadSafetensors } from "../io/safetensors.ts";

const SMALL = Deno.env.get("BENCH_SMALL") === "1";
await ready();
const ctx = webgpuContext();
if (!ctx) {
  console.error("webgpu backend unavailable: no adapter");
  Deno.exit(1);
}
const info = ctx.adapter.info;
const deviceName = `${info.description || info.vendor}` +
  (info.isFallbackAdapter ? " [fallback adapter]" : "");
const timed = ctx.device.features.has("timestamp-query");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Op family of a kernel key (the key's leading tag; see ctx.kernel callers). */
function family(key: string): string {
  const head = key.split(/[:|]/)[0];
  if (head === "map" || head === "v4") {
    const op = key.split(":")[1];
    return op === "copy" ? "copy/cast" : `elementwise`;
  }
  if (head === "copy4") return "copy/cast";
  if (head === "i64") return "elementwise";
  if (/conv|im2col|col2im/i.test(head)) return "conv";
  if (/pool/i.test(head)) return "pooling";
  if (head === "bn") return "batchnorm";
  if (/mm|matmul|gemm/i.test(head)) return "matmul";
  if (/softmax/i.test(head)) return "softmax";
  if (/^red|reduce|sum|mean|var|max|min|norm/i.test(head)) return "reduce";
  return head;
}

interface Case {
  name: string;
  /**
   * Records one step (forward, or a training step) and returns its result to read back (async
   * for mixed-precision training: GradScaler.step reads its overflow flag back).
   */
  step: () => Tensor | Promise<Tensor>;
  batch: number;
  train: boolean;
  /** Run before timing (the mixed-precision cases: until the loss scale has settled). */
  prime?: () => Promise<void>;
}

interface Result {
  name: string;
  wallMs: number;
  gpuMs: number | null;
  imagesS: number | null;
  profile: [string, number, number][];
  dispatches: number;
}

async function measure(c: Case, steps: number, trials: number, warm: number): Promise<Result> {
  for (let i = 0; i < warm; i++) {
    const r = await c.step();
    await r.data();
    r.dispose();
  }
  const walls: number[] = [];
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    let r: Tensor | null = null;
    for (let s = 0; s < steps; s++) {
      r?.dispose();
      r = await c.step();
    }
    await r!.data();
    r!.dispose();
    walls.push((performance.now() - t0) / steps);
  }
  let gpuMs: number | null = null;
  let profile: [string, number, number][] = [];
  const d0 = ctx!.dispatches;
  if (timed) {
    ctx!.startTiming();
    for (let s = 0; s < steps; s++) (await c.step()).dispose();
    gpuMs = (await ctx!.stopTiming()).ns / 1e6 / steps;
  } else {
    for (let s = 0; s < steps; s++) (await c.step()).dispose();
  }
  const dispatches = (ctx!.dispatches - d0) / steps;
  if (timed) {
    ctx!.startTiming(true);
    (await c.step()).dispose();
    const labels = [...ctx!.timingLabels!];
    const { perPass } = await ctx!.stopTiming();
    const fam = new Map<string, [number, number]>();
    for (let i = 0; i < labels.length && i < perPass.length; i++) {
      const f = family(labels[i]);
      const e = fam.get(f) ?? [0, 0];
      e[0] += perPass[i] / 1e6;
      e[1]++;
      fam.set(f, e);
    }
    profile = [...fam].map(([f, [ms, n]]) => [f, ms, n] as [string, number, number])
      .sort((a, b) => b[1] - a[1]);
  }
  const wallMs = median(walls);
  return {
    name: c.name,
    wallMs,
    gpuMs,
    imagesS: c.train ? (c.batch * 1000) / wallMs : null,
    profile,
    dispatches,
  };
}

function trainCase(
  name: string,
  model: nn.Module,
  x: Tensor,
  y: Tensor,
): Case {
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-4 });
  const lossFn = new nn.CrossEntropyLoss();
  return {
    name,
    batch: x.shape[0],
    train: true,
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = lossFn.call(model.call(x), y);
        loss.backward();
        opt.step();
        return loss;
      }),
  };
}

/** {@link trainCase} in f16 mixed precision: autocast forward, GradScaler (one readback a step). */
function ampTrainCase(name: string, model: nn.Module, x: Tensor, y: Tensor): Case {
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-4 });
  const lossFn = new nn.CrossEntropyLoss();
  const scaler = new optim.GradScaler();
  let stepped = false;
  return {
    name,
    batch: x.shape[0],
    train: true,
    // The scale starts at 2^16 and halves on each overflow: time the steady state, where steps
    // are taken (up to 40 steps until two in a row are).
    prime: async () => {
      let run = 0;
      for (let i = 0; i < 40 && run < 2; i++) {
        (await step()).dispose();
        run = stepped ? run + 1 : 0;
      }
      console.log(`AMP primed: scale ${scaler.getScale()}`);
    },
    step,
  };
  async function step(): Promise<Tensor> {
    const loss = tidy(() => {
      opt.zeroGrad();
      using _amp = autocast({ dtype: "f16" });
      const l = lossFn.call(model.call(x), y);
      scaler.scale(l).backward();
      return l;
    });
    stepped = await scaler.step(opt);
    scaler.update();
    return loss;
  }
}

/** Whether to run the mixed-precision variants (BENCH_AMP=0 skips them). */
const AMP = Deno.env.get("BENCH_AMP") !== "0";

const results: Result[] = [];
const steps = SMALL ? 1 : 5, trials = SMALL ? 1 : 3;

// ResNet-18 training, CIFAR-10-shaped.
if (!Deno.env.get("BENCH_SKIP")?.includes("resnet18")) {
  seed(0);
  const b = SMALL ? 2 : 128;
  const m = nn.models.resnet18({ numClasses: 10 });
  await m.to("gpu");
  const x = await randn([b, 3, 32, 32]).to("gpu");
  const y = await tensor(Array.from({ length: b }, (_, i) => i % 10), { dtype: "i64" }).to("gpu");
  results.push(await measure(trainCase(`resnet18 train b${b} 32²`, m, x, y), steps, trials, 2));
  console.log(JSON.stringify(results.at(-1)));
  if (AMP) {
    const c = ampTrainCase(`resnet18 train AMP b${b} 32²`, m, x, y);
    await c.prime!();
    results.push(await measure(c, steps, trials, 2));
    console.log(JSON.stringify(results.at(-1)));
  }
  m.dispose();
  ctx.trim();
}

// ResNet-50 training, ImageNet-shaped.
if (!Deno.env.get("BENCH_SKIP")?.includes("resnet50")) {
  seed(0);
  const b = SMALL ? 2 : 32, hw = SMALL ? 32 : 224;
  const m = nn.models.resnet50({ numClasses: 1000 });
  await m.to("gpu");
  const x = await randn([b, 3, hw, hw]).to("gpu");
  const y = await tensor(Array.from({ length: b }, (_, i) => (i * 37) % 1000), { dtype: "i64" })
    .to("gpu");
  results.push(
    await measure(trainCase(`resnet50 train b${b} ${hw}²`, m, x, y), SMALL ? 1 : 3, 2, 1),
  );
  console.log(JSON.stringify(results.at(-1)));
  m.dispose();
  ctx.trim();
}

// BERT-base-sized encoder forward.
if (!Deno.env.get("BENCH_SKIP")?.includes("bert")) {
  seed(0);
  const layers = SMALL ? 1 : 12;
  const enc: nn.TransformerEncoderLayer[] = [];
  for (let i = 0; i < layers; i++) {
    const l = new nn.TransformerEncoderLayer(768, 12, {
      dimFeedforward: 3072,
      dropout: 0,
      activation: "gelu",
      batchFirst: true,
    });
    l.eval();
    await l.to("gpu");
    enc.push(l);
  }
  const x = await randn([8, 128, 768]).to("gpu");
  const c: Case = {
    name: `bert-base fwd (${layers} layers) b8 s128`,
    batch: 8,
    train: false,
    step: () =>
      noGrad(() =>
        tidy(() => {
          let h = x;
          for (const l of enc) h = l.call(h);
          return h;
        })
      ),
  };
  results.push(await measure(c, steps, trials, 2));
  console.log(JSON.stringify(results.at(-1)));
  if (AMP) {
    const step = c.step;
    const a: Case = {
      ...c,
      name: `bert-base fwd AMP (${layers} layers) b8 s128`,
      step: () => {
        using _amp = autocast({ dtype: "f16" });
        return step();
      },
    };
    results.push(await measure(a, steps, trials, 2));
    console.log(JSON.stringify(results.at(-1)));
  }
  for (const l of enc) l.dispose();
  ctx.trim();
}

// ResNet-18 trajectory against PyTorch/CUDA fp32 (no TF32).
let trajectory: { rel: number[]; ours: number[]; torch: number[] } | null = null;
const refDir = Deno.env.get("REF_DIR");
if (refDir) {
  const { tensors: init } = await loadSafetensors(`${refDir}/init.safetensors`);
  const { tensors: io } = await loadSafetensors(`${refDir}/io.safetensors`);
  const net = nn.models.resnet18({ numClasses: 10 });
  net.loadStateDict(init);
  await net.to("gpu");
  const x = await io.x.to("gpu"), y = await io.y.to("gpu");
  const opt = new optim.AdamW(net.parameters(), { lr: 1e-4, weightDecay: 1e-2 });
  const lossFn = new nn.CrossEntropyLoss();
  const losses: Tensor[] = [];
  for (let s = 0; s < x.shape[0]; s++) {
    losses.push(tidy(() => {
      opt.zeroGrad();
      const l = lossFn.call(net.call(x.select(0, s)), y.select(0, s));
      l.backward();
      opt.step();
      return l;
    }));
  }
  const ours: number[] = [];
  for (const l of losses) ours.push(Number((await l.data())[0]));
  const want = Array.from(io.losses.dataSync() as Float64Array);
  trajectory = {
    ours,
    torch: want,
    rel: ours.map((o, s) => Math.abs(o - want[s]) / Math.abs(want[s])),
  };
  console.log(JSON.stringify(trajectory));
}

// Report.
type TorchCase = { ms: number; images_s?: number };
let torch: Record<string, TorchCase | string> = {};
const tj = Deno.env.get("TORCH_JSON");
if (tj) {
  try {
    torch = JSON.parse(Deno.readTextFileSync(tj));
  } catch (e) {
    console.error(`TORCH_JSON unreadable: ${(e as Error).message}`);
  }
}
const key = (r: Result) =>
  r.name.startsWith("resnet18") ? "resnet18" : r.name.startsWith("resnet50") ? "resnet50" : "bert";
const lines: string[] = [];
lines.push(`Device: ${deviceName}; PyTorch: ${torch.device ?? "n/a"} ${torch.torch ?? ""}`);
lines.push("");
lines.push(
  "| case | ours wall ms/step | ours GPU ms/step | dispatches/step | ours img/s | torch fp32 ms | torch AMP ms | ours/fp32 speed | ours/AMP speed |",
);
lines.push("|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const f = torch[`${key(r)}_fp32`] as TorchCase | undefined;
  const a = torch[`${key(r)}_amp`] as TorchCase | undefined;
  const fmt = (v: number | null | undefined, d = 1) => (v == null ? "n/a" : v.toFixed(d));
  lines.push(
    `| ${r.name} | ${fmt(r.wallMs)} | ${fmt(r.gpuMs)} | ${r.dispatches.toFixed(0)} | ${
      fmt(r.imagesS, 0)
    } | ${fmt(f?.ms)} | ${fmt(a?.ms)} | ${f ? (f.ms / r.wallMs).toFixed(3) : "n/a"}× | ${
      a ? (a.ms / r.wallMs).toFixed(3) : "n/a"
    }× |`,
  );
}
lines.push("");
for (const r of results) {
  const total = r.profile.reduce((s, p) => s + p[1], 0);
  lines.push(
    `GPU profile of one step, ${r.name} (per-dispatch passes, ${total.toFixed(1)} ms): ` +
      r.profile.map(([f, ms, n]) =>
        `${f} ${ms.toFixed(1)} ms (${(100 * ms / total).toFixed(0)}%, ${n})`
      ).join(", "),
  );
}
if (trajectory) {
  lines.push("");
  lines.push(
    `ResNet-18 trajectory vs torch fp32 (${trajectory.ours.length} steps): max rel loss diff ${
      Math.max(...trajectory.rel).toExponential(2)
    }; per step ${trajectory.rel.map((r) => r.toExponential(1)).join(" ")}`,
  );
}
const md = lines.join("\n");
console.log(md);
const out = Deno.env.get("OUT");
if (out) {
  Deno.writeTextFileSync(`${out}/gpu_models.md`, md + "\n");
  Deno.writeTextFileSync(
    `${out}/gpu_models.json`,
    JSON.stringify({ device: deviceName, results, torch, trajectory }, null, 1),
  );
}
