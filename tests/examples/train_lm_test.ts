import assert from "node:assert/strict";
import { LM_DEFAULTS, type LmArgs, parseLmArgs } from "../../examples/lm/args.ts";
import { parseChapters } from "../../examples/lm/corpus.ts";
import { prepareData, trainLm } from "../../examples/train_lm.ts";
import { KJV_SAMPLE } from "../llm/kjv_sample.ts";

const quiet = { log: () => {} };

/** A tiny run on the embedded sample (no package needed). */
function tiny(extra: Partial<LmArgs> = {}): LmArgs {
  return {
    ...LM_DEFAULTS,
    checkpoint: "",
    progress: "none",
    steps: 20,
    maxSteps: 5,
    batch: 2,
    seq: 32,
    vocab: 300,
    dim: 32,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 64,
    ...extra,
  };
}

const sample = (() => {
  const ch = KJV_SAMPLE.split("\n\n");
  return { train: ch.slice(0, 2).join("\n\n"), heldout: ch[2] };
})();

// first steps of `tiny()` on this machine (x86-64, wasm backend); a change to the model, the
// optimizer, the batches or a kernel's summation order shows here
const TINY_TRACE = [
  5.651479721069336,
  5.734494209289551,
  5.696791648864746,
  5.640597343444824,
  5.60475492477417,
];

Deno.test("train:lm: a seeded run repeats its losses exactly, and a resume continues them", async () => {
  const data = await prepareData(tiny(), sample);
  const a = await trainLm(tiny(), { ...quiet, data });
  const b = await trainLm(tiny(), { ...quiet, data });
  assert.equal(a.losses.length, 5);
  assert.deepEqual(a.losses, b.losses);
  const dir = await Deno.makeTempDir();
  try {
    const checkpoint = `${dir}/ck`;
    await trainLm(tiny({ checkpoint, maxSteps: 3 }), { ...quiet, data });
    const r = await trainLm(tiny({ checkpoint, resume: true }), { ...quiet, data });
    assert.deepEqual(r.losses, a.losses);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(a.losses, TINY_TRACE);
});

Deno.test("train:lm: the corpus parser keeps verses and splits chapters at headers", () => {
  const out =
    "\nGenesis 1\n\n  1 In the beginning.\n  2 And the earth.\n\nGenesis 2\n\n  1 Thus.\n";
  assert.deepEqual(parseChapters(out), ["In the beginning.\nAnd the earth.", "Thus."]);
  assert.throws(() => parseChapters("  1 orphan verse"), /before any chapter header/);
});

Deno.test("train:lm: options parse and bad ones are refused with the option's name", () => {
  const a = parseLmArgs(["--steps", "7", "--resume", "--progress", "none", "--data", "d"]);
  assert.equal(a.steps, 7);
  assert.equal(a.resume, true);
  assert.equal(a.data, "d");
  assert.throws(() => parseLmArgs(["--steps"]), /--steps needs a value/);
  assert.throws(() => parseLmArgs(["--lr", "x"]), /--lr x: expected a number/);
  assert.throws(() => parseLmArgs(["--nope"]), /unknown option --nope/);
});

const HAS_BIBLE = (() => {
  try {
    return new Deno.Command("bible", { args: ["Gen1:1"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

if (Deno.env.get("CI") === "true" && !HAS_BIBLE) {
  throw new Error("CI=true but the bible command is missing (.ci/run installs bible-kjv).");
}

// the first steps of `deno task train:lm` (the bundled model's command) on this machine: losses
// and the sha256 of the weights after step 3 (a one-ulp change in any kernel of the step, which a
// loss trace can miss, changes it; the full 1500-step run then no longer gives the committed bytes)
const BUNDLED_TRACE = [6.998188018798828, 6.989180088043213, 6.938286304473877];
const BUNDLED_SHA3 = "a31c5b5acaf1b099de328cd8ea57d2eed95910735e49dacd3e610e777d4fdbb4";

Deno.test({
  name: "train:lm: the bundled model's command starts with its recorded loss trace and weights",
  ignore: !HAS_BIBLE,
  async fn() {
    const s = await trainLm(
      { ...LM_DEFAULTS, maxSteps: 3, checkpoint: "", progress: "none" },
      quiet,
    );
    assert.deepEqual(s.losses, BUNDLED_TRACE);
    assert.equal(s.weightsSha256, BUNDLED_SHA3, "weights after 3 steps of the bundled command");
  },
});
