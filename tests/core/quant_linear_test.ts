/**
 * `quantLinear` (x · wᵀ on packed weights) against gguf-py's decoders and NumPy in float64, for
 * element and block weight types, and its typed errors.
 */
import assert from "node:assert/strict";
import {
  DTypeError,
  fromBlocks,
  fromTyped,
  memory,
  quantLinear,
  ShapeError,
  tensor,
  zeros,
} from "../../mod.ts";
import { quantizeRow } from "../../core/quant/mod.ts";
import { f32ToBF16Row, f32ToF16Row } from "../../core/quant/half.ts";
import type { BlockDType } from "../../core/dtype.ts";

const PY = [Deno.env.get("APRENDER_PYTHON"), ".venv-ref/bin/python"].find((p) => {
  if (!p) return false;
  try {
    return new Deno.Command(p, { args: ["-c", "import gguf, numpy"] }).outputSync().success;
  } catch {
    return false;
  }
}) ?? null;
if (Deno.env.get("CI") === "true" && !PY) throw new Error("CI=true but gguf-py is missing");

/** A seeded normal-ish generator (sum of uniforms), enough for test data. */
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

const TYPES = [
  "f32",
  "f16",
  "bf16",
  "q4_0",
  "q4_1",
  "q5_0",
  "q5_1",
  "q8_0",
  "q2_k",
  "q3_k",
  "q4_k",
  "q5_k",
  "q6_k",
  "iq4_nl",
  "iq4_xs",
] as const;

Deno.test({
  name: "quantLinear equals float64 x · dequantize(w)ᵀ (gguf-py decoders) for 15 weight types",
  ignore: !PY,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qlin-" });
    const cases: { type: string; n: number; k: number; m: number; q8: boolean }[] = [];
    const ours: Float32Array[] = [];
    /** Per case and output, Σ|x|·|w| over the dot (the scale of an f32 accumulation's error). */
    const mags: Float64Array[] = [];
    const before = memory().tensors;
    const rand = rng(11);
    const add = (type: string, q8: boolean) => {
      const k = type.endsWith("_k") || type === "iq4_xs" ? 512 : 96, n = 6, m = 3;
      const wf = Float32Array.from({ length: n * k }, rand);
      const x = Float32Array.from({ length: m * k }, rand);
      let bytes: Uint8Array, w;
      if (type === "f32") {
        bytes = new Uint8Array(wf.buffer.slice(0));
        w = fromTyped(wf, [n, k], "f32");
      } else if (type === "f16" || type === "bf16") {
        bytes = new Uint8Array(n * k * 2);
        (type === "f16" ? f32ToF16Row : f32ToBF16Row)(wf, bytes);
        w = fromTyped(new Uint16Array(bytes.buffer.slice(0)), [n, k], type);
      } else {
        const per = Math.round(
          (k / (type.endsWith("_k") || type === "iq4_xs" ? 256 : 32)) *
            {
              q4_0: 18,
              q4_1: 20,
              q5_0: 22,
              q5_1: 24,
              q8_0: 34,
              q2_k: 84,
              q3_k: 110,
              q4_k: 144,
              q5_k: 176,
              q6_k: 210,
              iq4_nl: 18,
              iq4_xs: 136,
            }[type as string]!,
        );
        bytes = new Uint8Array(n * per);
        for (let r = 0; r < n; r++) {
          quantizeRow(type as BlockDType, wf.subarray(r * k, (r + 1) * k), bytes.subarray(r * per));
        }
        w = fromBlocks(bytes, type as BlockDType, [n, k]);
      }
      const i = cases.length;
      const mag = new Float64Array(m * n);
      for (let r = 0; r < m; r++) {
        for (let j = 0; j < n; j++) {
          for (let c = 0; c < k; c++) mag[r * n + j] += Math.abs(x[r * k + c] * wf[j * k + c]);
        }
      }
      mags.push(mag);
      Deno.writeFileSync(`${dir}/${i}.w`, bytes);
      Deno.writeFileSync(`${dir}/${i}.x`, new Uint8Array(x.buffer));
      cases.push({ type, n, k, m, q8 });
      const xt = fromTyped(x, [m, k], "f32");
      const y = quantLinear(xt, w, { activations: q8 ? "ggml" : "f32" });
      assert.deepEqual(y.shape, [m, n]);
      ours.push((y.dataSync() as Float32Array).slice());
      for (const t of [xt, w, y]) t.dispose();
    };
    for (const t of TYPES) add(t, false);
    add("q8_0", true);
    add("q4_0", true);
    assert.equal(memory().tensors, before, "no tensor left behind");
    Deno.writeTextFileSync(`${dir}/cases.json`, JSON.stringify(cases));
    const r = new Deno.Command(PY!, {
      args: ["tests/helpers/quant_linear_ref.py", dir],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    assert(r.success, new TextDecoder().decode(r.stderr));
    const ref: number[][] = JSON.parse(new TextDecoder().decode(r.stdout));
    cases.forEach((c, i) => {
      for (let j = 0; j < ref[i].length; j++) {
        const e = ref[i][j], a = ours[i][j];
        // a kernel may accumulate in f32 (the WASM and GPU kernels do, as BLAS does): its error
        // scales with Σ|x·w| (≤ ~√k·2⁻²⁴ of it in practice; 1e-6 allows k = 512 with margin)
        const tol = 1e-6 * (1 + Math.abs(e)) + 1e-6 * mags[i][j];
        assert(
          Math.abs(a - e) <= tol,
          `${c.type}${c.q8 ? " (q8 activations)" : ""}[${j}]: ${a} vs ${e}`,
        );
      }
    });
  },
});

Deno.test("quantLinear keeps leading axes and refuses bad shapes and dtypes by name", () => {
  const w = tensor([[1, 2], [3, 4], [5, 6]]);
  const y = quantLinear(tensor([[[1, 1]], [[0, 1]]]), w);
  assert.deepEqual(y.shape, [2, 1, 3]);
  assert.deepEqual(y.toArraySync(), [[[3, 7, 11]], [[2, 4, 6]]]);
  assert.throws(
    () => quantLinear(zeros([2, 3]), w),
    (e: Error) =>
      e instanceof ShapeError && e.message.includes("quantLinear") && e.message.includes("3 ≠ 2"),
  );
  assert.throws(
    () => quantLinear(zeros([2, 3]), w.T),
    (e: Error) => e instanceof ShapeError && e.message.includes("contiguous"),
  );
  assert.throws(
    () => quantLinear(zeros([2, 2], { dtype: "f64" }), w),
    (e: Error) => e instanceof DTypeError && e.message.includes("f64"),
  );
  assert.throws(
    () => quantLinear(zeros([2, 2]), zeros([3, 2], { dtype: "i32" })),
    (e: Error) => e instanceof DTypeError && e.message.includes("i32"),
  );
});
