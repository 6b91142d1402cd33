/**
 * The engine on Q2_K, Q3_K, Q5_K and IQ4_XS weights (WASM kernels of backends/cpu/src/qlinear_k.c)
 * against llama.cpp (node-llama-cpp, f32 KV cache): a tiny random llama (hidden 256, from
 * transformers through gguf-py, tests/helpers/llm_ref.py) quantized by our quantizeGguf, greedy
 * 32 tokens with `activations: "ggml"`.
 */
import assert from "node:assert/strict";
import { loadModel } from "../../llm/mod.ts";
import { traceKernels } from "../../mod.ts";
import { openGguf, quantizeGguf } from "../../io/mod.ts";
import { HAS_LLAMA_CPP, HAS_STORIES, MODEL_PYTHON, STORIES } from "../helpers/llama_refs.ts";

const PY = MODEL_PYTHON;
if (Deno.env.get("CI") === "true" && (!PY || !HAS_LLAMA_CPP || !HAS_STORIES)) {
  throw new Error("CI=true but transformers/gguf-py, node-llama-cpp or stories260K is missing.");
}
const LLAMA_PKG = `${Deno.cwd()}/.refs/node_modules/node-llama-cpp`;

let refDir: { dir: string; ids: number[] } | null = null;
/** The random llama (hidden 256) written to GGUF F32, and its prompt ids. */
function ref(): { dir: string; ids: number[] } {
  if (refDir) return refDir;
  const dir = Deno.makeTempDirSync({ prefix: "llm-kquant-" });
  const out = new Deno.Command(PY!, {
    args: ["tests/helpers/llm_ref.py", "llama", dir, STORIES, "256"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`llm_ref.py: ${new TextDecoder().decode(out.stderr)}`);
  refDir = { dir, ids: JSON.parse(new TextDecoder().decode(out.stdout)).ids };
  return refDir;
}

/** llama.cpp's greedy continuation of `ids` (n tokens) and its logits at each step. */
function llamaGreedy(path: string, ids: number[], n: number) {
  const out = new Deno.Command("node", {
    args: ["tests/helpers/llama_generate.mjs", path, JSON.stringify(ids), String(n)],
    env: { LLAMA_PKG },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`llama_generate.mjs: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    tokens: number[];
    logits: number[][];
  };
}

/**
 * Per type: must our greedy tokens equal llama.cpp's at every one of the 32 steps? Q5_K and IQ4_XS
 * do. Q2_K and Q3_K diverge after a near tie (measured: Q3_K at step 26, llama.cpp's top-2 margin
 * 7.6e-3; Q2_K at step 11, margin 4.7e-2), because on this model llama.cpp's logits differ from
 * ours by ≤ 7.2e-6 at some steps (Q3_K: 11 of 32, Q2_K: 3 of 32) and by up to ~0.17 at the rest.
 * The difference does not persist through the KV cache, so it arises in the current token's
 * last-layer work, and it is not in the dot kernels: on this model's own weights our quantLinear
 * equals ggml_vec_dot_q{2,3}_K_q8_K to 1e-6 (tests/backends/wasm_qlinear_k_test.ts covers the
 * same on random weights), and the engine on the WASM kernels equals the engine on the scalar
 * reference kernels to 2.4e-6 (measured); the likeliest cause is an activation level rounded
 * the other way after a last-ulp f32 difference upstream (the note on q4_k in model_test.ts).
 * Cause not pinned down: recorded in the issue.
 */
const ALL_STEPS: Record<string, boolean> = { q5_k: true, iq4_xs: true, q3_k: false, q2_k: false };

for (const q of ["q5_k", "q3_k", "q2_k", "iq4_xs"] as const) {
  Deno.test({
    name: `llama (hidden 256) ${q} from our quantizeGguf: greedy 32 tokens as llama.cpp's` +
      (ALL_STEPS[q] ? "" : " up to a near tie"),
    ignore: !PY || !HAS_STORIES || !HAS_LLAMA_CPP,
    async fn() {
      const r = ref();
      const path = `${r.dir}/${q}.gguf`;
      await quantizeGguf(`${r.dir}/f32.gguf`, path, { type: q });
      {
        using f = await openGguf(path);
        const n = f.tensors.filter((t) => t.type === q).length;
        assert.equal(n, 16, `tensors of ${q}`); // every 2-D weight of the 2-layer model
      }
      const prompt = r.ids.slice(0, 8);
      const ll = llamaGreedy(path, prompt, 32);
      const m = await loadModel(path, { contextLength: 64, activations: "ggml" });
      for await (const _ of m.generate(prompt, { maxTokens: 32, temperature: 0 }));
      const tokens = m.stats!.tokens;
      const { result, trace } = traceKernels(() =>
        m.logits([...prompt, ...ll.tokens.slice(0, 31)])
      );
      const ql = trace.filter((t) => t.op === "quantLinear");
      assert.ok(ql.length > 0 && ql.every((t) => t.backend === "wasm"), "quantLinear ran on wasm");
      const ours = result.slice(7); // teacher-forced on llama.cpp's tokens
      let close = 0, parted = false;
      for (let i = 0; i < 32; i++) {
        let d = 0;
        for (let j = 0; j < ours[i].length; j++) {
          const x = Math.abs(ours[i][j] - ll.logits[i][j]);
          if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x; // NaN never passes
        }
        assert.ok(d <= 0.2, `${q} step ${i}: max |ours - llama.cpp| = ${d}`);
        if (d <= 1e-5) close++;
        if (!parted && tokens[i] !== ll.tokens[i]) {
          assert.ok(
            !ALL_STEPS[q],
            `${q} step ${i}: token ${tokens[i]} vs llama.cpp's ${ll.tokens[i]}`,
          );
          // only a near tie of llama.cpp's two best may part the sequences
          const s = [...ll.logits[i]].sort((a, b) => b - a);
          assert.ok(s[0] - s[1] <= 2 * d, `${q} step ${i}: diverged at margin ${s[0] - s[1]}`);
          parted = true; // our later tokens follow another sequence
        }
      }
      // measured: q5_k 32, iq4_xs 31 (one step 6e-2), q3_k 11, q2_k 3
      assert.ok(close >= (ALL_STEPS[q] ? 24 : 2), `only ${close} of 32 steps within 1e-5`);
      m.dispose();
    },
  });
}
