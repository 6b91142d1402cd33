/**
 * The server scheduler's per-step prompt budget (llm/server/scheduler.ts): with a step function
 * that records what each step carries, a burst of long prompts next to a decoding stream must
 * (1) never put more than 64 prompt rows in a step, (2) give the decoding stream a token at every
 * step, (3) prefill the prompts first admitted first, so the first request of the burst gets its
 * first token before the later ones are prefilled, and (4) still finish every job with its tokens.
 */
import assert from "node:assert/strict";
import { loadModel } from "../../llm/mod.ts";
import { type Job, Scheduler, type SeqStep } from "../../llm/server/scheduler.ts";
import { Sampler } from "../../llm/sampling/sampler.ts";
import { StopMatcher } from "../../llm/stop.ts";
import { HAS_STORIES, STORIES } from "../helpers/llama_refs.ts";

Deno.test({
  name: "scheduler: ≤ 64 prompt rows a step, decoding slots step on, first admitted first",
  ignore: !HAS_STORIES,
  async fn() {
    const model = await loadModel(STORIES, { contextLength: 256 });
    const V = model.config.vocab;
    const steps: { rows: number[]; prompt: number }[] = [];
    const logits = new Float32Array(V);
    logits[100] = 10; // always token 100 (not EOS)
    const step = (seqs: readonly SeqStep[]) => {
      const rows = seqs.map((s) => s.tokens.length);
      steps.push({ rows, prompt: rows.filter((n) => n > 1).reduce((a, b) => a + b, 0) });
      return seqs.map(() => logits);
    };
    const s = new Scheduler(model, { parallel: 4, contextLength: 256, maxQueue: 8, step });
    const firstAt: number[] = [], done: number[] = [], counts: number[] = [], steps0: number[] = [];
    const job = (i: number, prompt: number[], maxTokens: number): Job => ({
      prompt,
      maxTokens,
      sampler: new Sampler({ temperature: 0 }),
      stops: new StopMatcher([]),
      decoder: model.tokenizer.streamDecoder(),
      constraint: null,
      topLogprobs: -1,
      signal: new AbortController().signal,
      onToken() {
        counts[i] = (counts[i] ?? 0) + 1;
        if (i === 0) steps0.push(steps.length);
        if (counts[i] === 1) firstAt[i] = steps.length;
      },
      onDone(r) {
        assert.equal(r.finishReason, "length");
        done[i] = r.completionTokens;
      },
    });
    // one short job that starts decoding first, then three 50-token prompts at once
    s.submit(job(0, [1, 5, 6], 40));
    while (firstAt[0] === undefined) await new Promise((r) => setTimeout(r, 1));
    const at = steps.length;
    for (let i = 1; i <= 3; i++) {
      s.submit(job(i, [1, ...Array.from({ length: 49 }, (_, j) => 10 + ((i * 7 + j) % 200))], 5));
    }
    await s.drained();
    assert.deepEqual(done, [40, 5, 5, 5]);
    for (const st of steps) assert.ok(st.prompt <= 64, `a step carried ${st.prompt} prompt rows`);
    // the decoding job got a token at every step, the burst's prefill steps included
    for (let t = 1; t < steps0.length; t++) {
      assert.equal(steps0[t], steps0[t - 1] + 1, `job 0's tokens came at steps ${steps0}`);
    }
    assert.ok(steps.slice(at).some((st) => st.prompt > 0), "the burst prefilled beside job 0");
    // 150 prompt rows over steps of ≤ 64: job 1's first token comes before job 3's, a step apart
    assert.ok(firstAt[1] < firstAt[3], `first tokens at steps ${firstAt}`);
    s.dispose();
    model.dispose();
  },
});
