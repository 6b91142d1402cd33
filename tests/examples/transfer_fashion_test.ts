/**
 * The transfer-learning example end to end: PyTorch trains a torchvision ResNet (one block per
 * stage) on Fashion-MNIST classes 0–4 for 20 steps (tests/helpers/pretrain_fashion_ref.py) and
 * saves its state dict as safetensors; the example loads it by key into our ResNet, drops the
 * old head, trains a new one on 50 images of each of classes 5–9 and evaluates on 300 test
 * images; the saved result loads back under torchvision's key names, and its ONNX export runs
 * in onnxruntime with the model's logits.
 */
import assert from "node:assert/strict";
import { loadSafetensors } from "../../mod.ts";
import { DEFAULTS, transfer } from "../../examples/transfer_fashion.ts";
import { HAS_TORCH, PYTHON } from "../helpers/numpy.ts";
import { maxAbsDiff, ortRun } from "../onnx/ort.ts";

const FASHION = "/usr/share/datasets/fashion-mnist";
const HAS_FASHION = (() => {
  try {
    return Deno.statSync(`${FASHION}/train-images-idx3-ubyte.gz`).isFile;
  } catch {
    return false;
  }
})();
if (!HAS_FASHION && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but ${FASHION} is missing: apt-get install dataset-fashion-mnist.`);
}

Deno.test(
  "transfer:fashion fine-tunes a new head on torchvision-layout weights trained by PyTorch",
  { ignore: !HAS_TORCH || !HAS_FASHION },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "aprender-transfer-" });
    try {
      const src = `${dir}/source.safetensors`;
      const r = await new Deno.Command(PYTHON!, {
        args: [
          new URL("../helpers/pretrain_fashion_ref.py", import.meta.url).pathname,
          src,
          "20",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr).slice(-2000));
      const source = JSON.parse(new TextDecoder().decode(r.stdout));
      assert.ok(source.source_accuracy > 0.5, `source model accuracy ${source.source_accuracy}`);
      const out = `${dir}/transferred.safetensors`, onnx = `${dir}/transferred.onnx`;
      const lines: string[] = [];
      const res = await transfer(
        { ...DEFAULTS, weights: src, test: 300, out, onnx },
        (s) => lines.push(s),
      );
      // The exported model in onnxruntime (the reference) and in our loader equals the model.
      const probe = res.onnxProbe!;
      const ref = await ortRun(onnx, { "0:x": probe.x }, 1);
      const dOrt = maxAbsDiff(ref["0:y"], probe.logits);
      assert.ok(dOrt <= 1e-5, `onnxruntime vs the model: max |diff| ${dOrt}`);
      assert.ok(probe.maxDiff <= 1e-5, `our loader vs the model: max |diff| ${probe.maxDiff}`);
      probe.x.dispose();
      probe.logits.dispose();
      assert.deepEqual(res.layers, [1, 1, 1, 1]);
      assert.equal(res.bottleneck, false);
      assert.deepEqual([...res.dropped].sort(), ["fc.bias", "fc.weight"]);
      // Chance is 20%; 50 labeled images per class reach 80–86% here (random-feature backbones
      // as well: see the README's note on this dataset).
      assert.ok(res.testAccuracy >= 0.7, `test accuracy ${res.testAccuracy}`);
      assert.ok(lines.some((l) => l.startsWith("accuracy on classes 5,6,7,8,9")));
      const { tensors } = await loadSafetensors(out);
      assert.deepEqual(tensors["fc.weight"].shape, [5, 512]);
      assert.ok("layer4.0.bn2.running_var" in tensors);
      for (const t of Object.values(tensors)) t.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
