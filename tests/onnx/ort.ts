/** onnxruntime (Python, through tests/helpers/ort_ref.py) as the reference for model tests. */
import assert from "node:assert/strict";
import { decodeNpz, encodeNpz } from "../../io/npz.ts";
import type { Tensor } from "../../core/tensor.ts";
import { rng } from "../helpers/gen.ts";

const PY = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";

/** Run onnxruntime over `steps` feed sets (keys "<step>:<name>"), carrying outputs to inputs. */
export async function ortRun(
  model: string,
  feeds: Record<string, Tensor>,
  steps: number,
  carry: Record<string, string> = {},
): Promise<Record<string, Tensor>> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/feeds.npz`, await encodeNpz(feeds));
    const req = { model, feeds: `${dir}/feeds.npz`, steps, carry, out: `${dir}/out.npz` };
    const p = new Deno.Command(PY, {
      args: [new URL("../helpers/ort_ref.py", import.meta.url).pathname],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(req)));
    await w.close();
    const res = await p.output();
    if (!res.success) throw new Error(new TextDecoder().decode(res.stderr));
    return await decodeNpz(await Deno.readFile(`${dir}/out.npz`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** max |a - b| after checking shapes; NaN anywhere fails. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (Number.isNaN(d)) return NaN;
    m = Math.max(m, d);
  }
  return m;
}

const ROOTS = ["../../.refs/onnx-models/", "../../.cache/onnx-models/"].map((p) =>
  new URL(p, import.meta.url).pathname
);

/** The model file under the first root that has it. */
export function modelPath(rel: string): string | null {
  for (const r of ROOTS) {
    try {
      Deno.statSync(r + rel);
      return r + rel;
    } catch { /* next root */ }
  }
  return null;
}

/** Speech-like audio: a few formant-ish tones under a syllable envelope, plus noise. */
export function fakeAudio(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    const env = Math.max(0, Math.sin(2 * Math.PI * 3 * t)) ** 2;
    const f0 = 120 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
    const voice = 0.5 * Math.sin(2 * Math.PI * f0 * t) + 0.25 * Math.sin(2 * Math.PI * 3 * f0 * t) +
      0.1 * Math.sin(2 * Math.PI * 7.3 * f0 * t);
    out[i] = 0.3 * env * voice + 0.01 * (r() - 0.5);
  }
  return out;
}

const TORCH_DIR = new URL("../../.cache/onnx-torch/", import.meta.url).pathname;

/** Exports the torch models once (random weights, fixed seed) into .cache/onnx-torch. */
export function torchModels(): string {
  try {
    Deno.statSync(`${TORCH_DIR}encoder.onnx`);
    Deno.statSync(`${TORCH_DIR}resnet_like.onnx`);
    return TORCH_DIR;
  } catch { /* export below */ }
  const py = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";
  const script = new URL("../helpers/torch_onnx_models.py", import.meta.url).pathname;
  const r = new Deno.Command(py, { args: [script, TORCH_DIR], stdout: "null", stderr: "piped" })
    .outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return TORCH_DIR;
}
