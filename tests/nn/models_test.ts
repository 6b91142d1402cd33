/**
 * nn/models against torchvision's own model code (tests/helpers/torchvision_ref.py): the state
 * dict keys, shapes and dtypes of ResNet-18/50 and MobileNetV2 equal torchvision's; random weights
 * saved by torchvision as safetensors load by key and give torchvision's logits within 1e-4 (all
 * three at 1000 classes; ResNet-34 is ResNet-18's code with more blocks); ImageNet preprocessing
 * equals torch's antialiased bilinear resize + center crop + normalization.
 */
import assert from "node:assert/strict";
import { nn, noGrad, type Tensor } from "../../mod.ts";
import { loadSafetensors } from "../../io/safetensors.ts";
import { HAS_TORCH, PYTHON } from "../helpers/numpy.ts";

const opts = { ignore: !HAS_TORCH };
const DTYPES: Record<string, string> = { "torch.float32": "f32", "torch.int64": "i64" };

interface Ref {
  dir: string;
  keys: Record<string, [string, number[], string][]>;
  down_args: number[];
  up_args: number[];
}

let ref: Ref | null = null;
function reference(): Ref {
  if (ref) return ref;
  const dir = Deno.makeTempDirSync({ prefix: "aprender-tv-" });
  const r = new Deno.Command(PYTHON!, {
    args: [new URL("../helpers/torchvision_ref.py", import.meta.url).pathname, dir],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!r.success) {
    throw new Error(
      `torchvision_ref.py failed:\n${new TextDecoder().decode(r.stderr).slice(-2000)}`,
    );
  }
  ref = { dir, ...JSON.parse(new TextDecoder().decode(r.stdout)) };
  return ref!;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync() as Float32Array, y = b.dataSync() as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Models built once (random init of 41 M parameters is seconds), reused by the logits tests. */
const built = new Map<string, nn.Module>();
function model(name: string): nn.Module {
  const make: Record<string, () => nn.Module> = {
    resnet18: () => nn.models.resnet18(),
    resnet50: () => nn.models.resnet50(),
    mobilenet_v2: () => nn.models.mobilenetV2(),
  };
  if (!built.has(name)) built.set(name, make[name]());
  return built.get(name)!;
}

Deno.test(
  "state dict keys, shapes and dtypes equal torchvision's (ResNet-18/50, MobileNetV2)",
  opts,
  () => {
    const { keys } = reference();
    for (const name of ["resnet18", "resnet50", "mobilenet_v2"]) {
      const m = model(name);
      const sd = m.stateDict();
      const got = Object.entries(sd).map(([k, t]) => [k, [...t.shape], t.dtype]);
      const want = keys[name].map(([k, s, d]) => [k, s, DTYPES[d]]);
      assert.deepEqual(got, want, name);
      for (const t of Object.values(sd)) t.dispose();
    }
  },
);

// Absolute tolerance on the logits, or for ResNet-50 (53 layers of f32 sums with random
// BatchNorm statistics, logits in the hundreds) relative to the largest |logit|.
for (
  const [name, tol, relative] of [
    ["resnet18", 1e-4, false],
    ["resnet50", 1e-5, true],
    ["mobilenet_v2", 1e-4, false],
  ] as const
) {
  Deno.test(
    `${name}: torchvision's random weights from safetensors give its logits (≤ ${tol}${
      relative ? " × max |logit|" : ""
    })`,
    opts,
    async () => {
      const { dir } = reference();
      const { tensors: weights } = await loadSafetensors(`${dir}/${name}.safetensors`);
      const { tensors: io } = await loadSafetensors(`${dir}/${name}_io.safetensors`);
      const net = model(name).eval();
      const res = net.loadStateDict(weights);
      assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
      const logits = noGrad(() => net.call(io.x));
      const d = maxAbsDiff(logits, io.logits);
      const ref = io.logits.dataSync() as Float32Array;
      const big = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const bound = relative ? tol * big : tol;
      assert.ok(
        d <= bound,
        `${name}: max |ours - torchvision| = ${d} > ${bound} (max |logit| ${big})`,
      );
      // The logits are not trivially small: a wrong layer would show.
      assert.ok(big > 0.1);
      for (const t of [...Object.values(weights), ...Object.values(io), logits]) t.dispose();
      net.dispose();
      built.delete(name);
    },
  );
}

Deno.test(
  "ImageNet preprocessing equals torch's antialiased resize, center crop, normalize",
  opts,
  async () => {
    const r = reference();
    const { tensors } = await loadSafetensors(`${r.dir}/preprocess.safetensors`);
    for (const tag of ["down", "up"] as const) {
      const [h, w, resize, crop] = r[`${tag}_args`];
      const img = tensors[`${tag}_img`].dataSync() as Uint8Array;
      const ours = nn.models.imagenetPreprocess({ data: img, height: h, width: w, channels: 3 }, {
        resize,
        crop,
      });
      const d = maxAbsDiff(ours, tensors[`${tag}_out`]);
      assert.ok(d <= 2e-5, `${tag}: max diff ${d}`);
      ours.dispose();
    }
    assert.throws(
      () => nn.models.imagenetPreprocess({ data: new Uint8Array(10), height: 2, width: 2 }),
      /10 values do not make a 2×2 image/,
    );
  },
);

globalThis.addEventListener("unload", () => {
  if (ref) Deno.removeSync(ref.dir, { recursive: true });
});
