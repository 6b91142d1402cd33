/**
 * `deno task transfer:fashion --weights NAME|PATH`: transfer learning with a ResNet whose weights
 * come in torchvision's layout (a safetensors state dict — e.g. torchvision's or timm's ImageNet
 * ResNet-18, `--weights hf://timm/resnet18.tv_in1k/model.safetensors`, pulled into the cache by
 * name). The backbone is frozen, a new head is trained on a few labeled Fashion-MNIST images of
 * classes the backbone never saw (5–9 by default), and the test accuracy is reported; `--out`
 * saves the whole model (torchvision's key names) with the new head; `--onnx` exports it to ONNX
 * (traced, dynamic batch axis) for onnxruntime and other ONNX runtimes.
 *
 * Images: 28×28 grey replicated to RGB and normalized with ImageNet's mean and std
 * (`nn.models.imagenetPreprocess`), resized to `--size` (default 28) for ImageNet-size
 * backbones.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  loadIdx,
  loadSafetensors,
  nn,
  noGrad,
  optim,
  saveSafetensors,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";
import { progressBar, resolveModel } from "../io/hub/mod.ts";
import { exportOnnx, loadOnnx } from "../io/onnx/mod.ts";

/** Options of {@link transfer}. */
export interface TransferArgs {
  /** Pretrained weights: a path, a hub name or a URL (torchvision-layout safetensors). */
  weights: string;
  /** Target classes (the new head's outputs), Fashion-MNIST labels. */
  classes: number[];
  /** Labeled training images per class. */
  perClass: number;
  /** Test images (of the target classes) to evaluate on. */
  test: number;
  /** Full-batch training steps of the head. */
  steps: number;
  /** Learning rate of the head (AdamW). */
  lr: number;
  /** Side the images are resized to (28 keeps them). */
  size: number;
  /** Fashion-MNIST IDX folder. */
  data: string;
  /** Where to save the fine-tuned model (safetensors), or "". */
  out: string;
  /** Where to export the fine-tuned model as ONNX, or "". */
  onnx?: string;
}

/** Defaults of {@link TransferArgs} (weights has none). */
export const DEFAULTS: Omit<TransferArgs, "weights"> = {
  classes: [5, 6, 7, 8, 9],
  perClass: 50,
  test: 1000,
  steps: 300,
  lr: 0.01,
  size: 28,
  data: "/usr/share/datasets/fashion-mnist",
  out: "",
};

/** What a run measured. */
export interface TransferResult {
  /** Stage block counts read from the weights (e.g. [2, 2, 2, 2] for ResNet-18). */
  layers: number[];
  /** Whether the blocks are bottlenecks (ResNet-50 and deeper). */
  bottleneck: boolean;
  /** Keys of the weights not loaded (the old head). */
  dropped: string[];
  /** Accuracy of the new head on its training images. */
  trainAccuracy: number;
  /** Accuracy on the test images. */
  testAccuracy: number;
  /** Seconds to compute the frozen backbone's features. */
  featureSeconds: number;
  /** Seconds to train the head. */
  headSeconds: number;
  /**
   * With `onnx`: four test images (N, 3, size, size), the model's logits on them, and the
   * largest difference from the exported model run by our ONNX loader.
   */
  onnxProbe?: { x: Tensor; logits: Tensor; maxDiff: number };
}

/** A ResNet shaped like the state dict (block type and blocks per stage from its keys). */
export function resnetFor(keys: string[], numClasses: number): nn.models.ResNet {
  const bottleneck = keys.includes("layer1.0.conv3.weight");
  const layers = [1, 2, 3, 4].map((l) => {
    let n = 0;
    while (keys.includes(`layer${l}.${n}.conv1.weight`)) n++;
    return n;
  });
  if (layers.some((n) => n === 0)) {
    throw new Error(
      `the weights are not a torchvision ResNet: blocks per stage ${layers} (no layerN.0.conv1).`,
    );
  }
  return new nn.models.ResNet(
    bottleneck ? "bottleneck" : "basic",
    layers as [number, number, number, number],
    { numClasses },
  );
}

/** Images (N, 3, size, size) of the chosen indices, preprocessed as for ImageNet models. */
function images(pixels: Uint8Array, idx: number[], size: number): Tensor {
  const out = new Float32Array(idx.length * 3 * size * size);
  const rgb = new Uint8Array(28 * 28 * 3);
  idx.forEach((i, k) => {
    for (let p = 0; p < 784; p++) rgb.fill(pixels[i * 784 + p], p * 3, p * 3 + 3);
    const t = nn.models.imagenetPreprocess({ data: rgb, height: 28, width: 28, channels: 3 }, {
      resize: size === 28 ? 0 : size,
      crop: size,
    });
    out.set(t.dataSync() as Float32Array, k * 3 * size * size);
    t.dispose();
  });
  return tensor(out, { shape: [idx.length, 3, size, size] });
}

/** Frozen-backbone features (N, C) in batches of 64. */
function features(model: nn.models.ResNet, pixels: Uint8Array, idx: number[], size: number) {
  const parts: Float32Array[] = [];
  for (let s = 0; s < idx.length; s += 64) {
    const x = images(pixels, idx.slice(s, s + 64), size);
    parts.push(noGrad(() => tidy(() => model.features(x).dataSync() as Float32Array)).slice());
    x.dispose();
  }
  const c = parts[0].length / Math.min(64, idx.length);
  const all = new Float32Array(idx.length * c);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return tensor(all, { shape: [idx.length, c] });
}

/** Export the whole fine-tuned model to ONNX and check it on four test images with our loader. */
async function exportTo(
  path: string,
  model: nn.models.ResNet,
  pixels: Uint8Array,
  idx: number[],
  size: number,
  log: (s: string) => void,
) {
  const x = images(pixels, idx.slice(0, 4), size);
  await exportOnnx(model, x.slice(":1"), path, {
    dynamicAxes: { x: { 0: "batch" }, y: { 0: "batch" } },
  });
  const logits = noGrad(() => model.call(x));
  const session = await loadOnnx(path);
  const { y } = await session.run({ x });
  const maxDiff = noGrad(() => tidy(() => y.sub(logits).abs().max().item() as number));
  y.dispose();
  log(
    `exported ${path} (ONNX, dynamic batch); our loader's logits within ${
      maxDiff.toExponential(1)
    }`,
  );
  return { x, logits, maxDiff };
}

/**
 * Load the weights, swap the head, train it on frozen features, and evaluate.
 *
 * @param args the run's settings
 * @param log where progress lines go
 */
export async function transfer(
  args: TransferArgs,
  log: (s: string) => void = console.error,
): Promise<TransferResult> {
  const path = await resolveModel(args.weights, { onProgress: progressBar() });
  const { tensors } = await loadSafetensors(path);
  const keys = Object.keys(tensors);
  const model = resnetFor(keys, args.classes.length).eval();
  const dropped = keys.filter((k) => k.startsWith("fc."));
  const backbone = Object.fromEntries(
    Object.entries(tensors).filter(([k]) => !k.startsWith("fc.")),
  );
  const res = model.loadStateDict(backbone, { strict: false });
  if (res.unexpectedKeys.length || res.missingKeys.some((k) => !k.startsWith("fc."))) {
    throw new Error(
      `${path}: not a torchvision ResNet state dict: missing ${res.missingKeys}, ` +
        `unexpected ${res.unexpectedKeys}.`,
    );
  }
  for (const t of Object.values(tensors)) t.dispose();
  model.requireGrad(false);
  const head = model.fc.requireGrad(true);
  const layers = [model.layer1, model.layer2, model.layer3, model.layer4].map((l) => l.length);
  log(
    `${path}: ResNet ${layers.join("-")} blocks, new head ${head.inFeatures} → ${head.outFeatures}`,
  );

  const load = async (split: string) => ({
    x: await loadIdx(`${args.data}/${split}-images-idx3-ubyte.gz`),
    y: await loadIdx(`${args.data}/${split}-labels-idx1-ubyte.gz`),
  });
  const pick = (labels: Uint8Array, want: number) => {
    const idx: number[] = [], target: number[] = [];
    const seen = new Map<number, number>();
    for (let i = 0; i < labels.length && idx.length < want; i++) {
      const c = args.classes.indexOf(labels[i]);
      if (c < 0 || (seen.get(c) ?? 0) >= want / args.classes.length) continue;
      seen.set(c, (seen.get(c) ?? 0) + 1);
      idx.push(i);
      target.push(c);
    }
    return { idx, target: tensor(Int32Array.from(target)) };
  };
  const train = await load("train"), test = await load("t10k");
  const trPix = train.x.dataSync() as Uint8Array, tePix = test.x.dataSync() as Uint8Array;
  const tr = pick(train.y.dataSync() as Uint8Array, args.perClass * args.classes.length);
  const te = pick(test.y.dataSync() as Uint8Array, args.test);
  for (const t of [train.x, train.y, test.x, test.y]) t.dispose();

  let t0 = performance.now();
  const fTrain = features(model, trPix, tr.idx, args.size);
  const fTest = features(model, tePix, te.idx, args.size);
  const featureSeconds = (performance.now() - t0) / 1000;
  log(`features of ${tr.idx.length} + ${te.idx.length} images in ${featureSeconds.toFixed(1)} s`);

  t0 = performance.now();
  const opt = new optim.AdamW(head.parameters(), { lr: args.lr, weightDecay: 1e-4 });
  for (let s = 0; s < args.steps; s++) {
    const loss = tidy(() => {
      const l = nn.crossEntropy(head.call(fTrain), tr.target);
      l.backward();
      return l.item() as number;
    });
    opt.step();
    opt.zeroGrad();
    if (s % 100 === 0 || s === args.steps - 1) log(`head step ${s}: loss ${loss.toFixed(4)}`);
  }
  const headSeconds = (performance.now() - t0) / 1000;
  const accuracy = (f: Tensor, y: Tensor) =>
    noGrad(() =>
      tidy(() => (head.call(f).argmax(1).astype("i32").eq(y).sum().item() as number) / y.size)
    );
  const result: TransferResult = {
    layers,
    bottleneck: model.layer1.length > 0 &&
      model.layer1.children()[0] instanceof nn.models.Bottleneck,
    dropped,
    trainAccuracy: accuracy(fTrain, tr.target),
    testAccuracy: accuracy(fTest, te.target),
    featureSeconds,
    headSeconds,
  };
  log(
    `accuracy on classes ${args.classes}: train ${(100 * result.trainAccuracy).toFixed(1)}%, ` +
      `test ${(100 * result.testAccuracy).toFixed(1)}% (${te.idx.length} images; chance ` +
      `${(100 / args.classes.length).toFixed(0)}%)`,
  );
  if (args.out) {
    const sd = model.stateDict();
    await saveSafetensors(args.out, sd);
    for (const t of Object.values(sd)) t.dispose();
    log(`saved ${args.out} (torchvision key names)`);
  }
  if (args.onnx) result.onnxProbe = await exportTo(args.onnx, model, tePix, te.idx, args.size, log);
  for (const t of [fTrain, fTest, tr.target, te.target]) t.dispose();
  model.dispose();
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      weights: { type: "string" },
      classes: { type: "string" },
      "per-class": { type: "string" },
      test: { type: "string" },
      steps: { type: "string" },
      lr: { type: "string" },
      size: { type: "string" },
      data: { type: "string" },
      out: { type: "string" },
      onnx: { type: "string" },
    },
  });
  if (!values.weights) {
    console.error(
      "usage: transfer:fashion --weights NAME|PATH [--classes 5,6,7,8,9] [--per-class 50] " +
        "[--test 1000] [--steps 300] [--lr 0.01] [--size 28] [--out model.safetensors] " +
        "[--onnx model.onnx]\n" +
        "  e.g. --weights hf://timm/resnet18.tv_in1k/model.safetensors --size 64",
    );
    Deno.exit(2);
  }
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  await transfer({
    weights: values.weights,
    classes: values.classes ? values.classes.split(",").map(Number) : DEFAULTS.classes,
    perClass: num(values["per-class"], DEFAULTS.perClass),
    test: num(values.test, DEFAULTS.test),
    steps: num(values.steps, DEFAULTS.steps),
    lr: num(values.lr, DEFAULTS.lr),
    size: num(values.size, DEFAULTS.size),
    data: values.data ?? DEFAULTS.data,
    out: values.out ?? DEFAULTS.out,
    onnx: values.onnx ?? "",
  });
}
