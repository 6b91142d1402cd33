import assert from "node:assert/strict";
import fc from "fast-check";
import { IndexError } from "../../core/errors.ts";
import {
  candidatesFrom,
  logProbs,
  Sampler,
  SamplerError,
  type SamplerOptions,
  sortTop,
} from "../../llm/mod.ts";
import { llamaFilter, llamaSamplerLib } from "../helpers/llama_sampler.ts";
import { PYTHON } from "../helpers/numpy.ts";

/** Deterministic pseudo-random logits (xorshift32 → roughly N(0, scale²) by summing uniforms). */
function randomLogits(n: number, seed: number, scale = 3): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u() - 2) * scale;
  return out;
}

function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

const logitsArb = fc.array(fc.float({ min: -20, max: 20, noNaN: true, noDefaultInfinity: true }), {
  minLength: 1,
  maxLength: 64,
}).map((a) => Float32Array.from(a));

Deno.test("sampler: temperature 0 is greedy (first argmax) for any seed and truncation", () => {
  fc.assert(
    fc.property(logitsArb, fc.integer(), fc.integer({ min: 0, max: 10 }), (l, seed, k) => {
      const s = new Sampler({ temperature: 0, seed, topK: k });
      assert.equal(s.sample(l), argmax(l));
    }),
  );
});

Deno.test("sampler: the drawn token is always a surviving candidate; top-k keeps the k best", () => {
  fc.assert(
    fc.property(
      logitsArb,
      fc.integer(),
      fc.integer({ min: 1, max: 8 }),
      fc.float({ min: Math.fround(0.05), max: 1, noNaN: true }),
      (l, seed, k, p) => {
        const opts: SamplerOptions = { seed, topK: k, topP: p, minP: 0.02, temperature: 1 };
        const s = new Sampler(opts);
        const survivors = s.filter(l);
        const alive = new Set(Array.from(survivors.ids.subarray(0, survivors.size)));
        const t = s.sample(l);
        assert.ok(alive.has(t), `token ${t} not among ${[...alive]}`);
        const kth = Float32Array.from(l).sort().reverse()[Math.min(k, l.length) - 1];
        assert.ok(l[t] >= kth);
      },
    ),
  );
});

Deno.test("sampler: same seed gives the same tokens; another seed gives others", () => {
  const l = randomLogits(500, 7, 1);
  const run = (seed: number) => {
    const s = new Sampler({ seed, temperature: 1, topK: 0, topP: 1, minP: 0 });
    return Array.from({ length: 64 }, () => s.sample(l));
  };
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(run(1), run(2));
});

Deno.test("sampler: draws follow softmax(logits / T) (20000 draws, |freq − p| < 0.012)", () => {
  const l = new Float32Array([1, 2, 0.5, -1, 1.5]);
  const T = 0.7;
  const s = new Sampler({ seed: 3, temperature: T, topK: 0, topP: 1, minP: 0 });
  const n = 20000, hist = new Array(l.length).fill(0);
  for (let i = 0; i < n; i++) hist[s.sample(l)]++;
  const e = Array.from(l, (x) => Math.exp(x / T));
  const z = e.reduce((a, b) => a + b);
  e.forEach((x, i) => {
    const diff = Math.abs(hist[i] / n - x / z);
    assert.ok(diff < 0.012, `token ${i}: freq ${hist[i] / n} vs p ${x / z}`);
  });
});

Deno.test("sampler: logit bias −Infinity bans a token; +large forces it", () => {
  const l = new Float32Array([5, 1, 0]);
  const ban = new Sampler({ temperature: 0, logitBias: { 0: -Infinity } });
  assert.equal(ban.sample(l), 1);
  const force = new Sampler({ seed: 9, temperature: 1, logitBias: new Map([[2, 100]]) });
  for (let i = 0; i < 20; i++) assert.equal(force.sample(l), 2);
});

Deno.test("sampler: penalties follow llama.cpp's formula over the last-n window", () => {
  const l = new Float32Array([2, -2, 1, 0.5]);
  const s = new Sampler({
    temperature: 1,
    topK: 0,
    topP: 1,
    minP: 0,
    repeatPenalty: 1.5,
    frequencyPenalty: 0.25,
    presencePenalty: 0.5,
    penaltyLastN: 3,
  });
  for (const t of [3, 0, 0, 1]) s.accept(t); // window: [0, 0, 1] (3 fell out)
  const c = s.filter(l);
  const got = new Map(Array.from(c.ids.subarray(0, c.size), (id, i) => [id, c.logits[i]]));
  const f = Math.fround;
  assert.equal(got.get(0), f(f(2 / 1.5) - f(2 * 0.25 + 0.5)));
  assert.equal(got.get(1), f(f(-2 * 1.5) - f(0.25 + 0.5)));
  assert.equal(got.get(2), 1);
  assert.equal(got.get(3), 0.5);
});

Deno.test("logProbs: log-softmax of the raw logits; top-k sorted, probabilities sum to 1", () => {
  fc.assert(
    fc.property(logitsArb, fc.integer({ min: 1, max: 5 }), (l, k) => {
      const r = logProbs(l, k);
      let total = 0;
      for (const x of l) total += Math.exp(x - r.logSumExp);
      assert.ok(Math.abs(total - 1) < 1e-9, `sum ${total}`);
      assert.equal(r.top.length, Math.min(k, l.length));
      for (let i = 1; i < r.top.length; i++) assert.ok(r.top[i - 1].logprob >= r.top[i].logprob);
      assert.equal(r.top[0].token, argmax(l));
    }),
  );
  const d = new Sampler({ temperature: 0 }).sampleDetailed(new Float32Array([0, Math.log(3)]), 2);
  assert.equal(d.token, 1);
  assert.ok(Math.abs(Math.exp(d.logprob) - 0.75) < 1e-7);
});

Deno.test("sampler: bad settings and inputs are SamplerError/IndexError naming the field", () => {
  const bad: [SamplerOptions, RegExp][] = [
    [{ topP: 1.5 }, /topP.*1\.5/],
    [{ minP: -0.1 }, /minP/],
    [{ topK: 2.5 }, /topK/],
    [{ repeatPenalty: 0 }, /repeatPenalty/],
    [{ penaltyLastN: -1 }, /penaltyLastN/],
    [{ temperature: NaN }, /temperature/],
    [{ seed: 1.5 }, /seed/],
    [{ logitBias: { [-1]: 1 } }, /logitBias/],
  ];
  for (const [o, re] of bad) {
    assert.throws(() => new Sampler(o), (e) => e instanceof SamplerError && re.test(e.message));
  }
  const s = new Sampler({ logitBias: { 10: 1 } });
  assert.throws(() => s.sample(new Float32Array(3)), IndexError);
  assert.throws(
    () => new Sampler({ logitBias: { 0: -Infinity } }).sample(new Float32Array([0])),
    (e) => e instanceof SamplerError && /excluded/.test(e.message),
  );
  assert.throws(() => new Sampler().sample(new Float32Array(0)), SamplerError);
});

/** 200 chain settings over random logits (vocab 50..2000) and penalty histories. */
function chainCases(): { logits: number[]; history: number[]; options: SamplerOptions }[] {
  const cases: { logits: number[]; history: number[]; options: SamplerOptions }[] = [];
  const grid = (i: number, xs: number[]) => xs[i % xs.length];
  for (let i = 0; i < 200; i++) {
    const n = grid(i, [50, 300, 2000]);
    const logits = randomLogits(n, 1000 + i, grid(i, [0.5, 2, 6]));
    const history = Array.from(
      randomLogits(40, 5000 + i, 1),
      (x) => Math.abs(Math.floor(x * 40)) % n,
    );
    const options: SamplerOptions = {
      temperature: grid(i, [0.8, 1.3, 0.2, 0]),
      topK: grid(i >> 1, [40, 0, 5, 1000]),
      topP: grid(i >> 2, [0.95, 1, 0.5, 0.9]),
      minP: grid(i >> 3, [0.05, 0, 0.2]),
      typicalP: grid(i >> 4, [1, 0.7]),
      repeatPenalty: grid(i, [1, 1.1, 1.3]),
      frequencyPenalty: grid(i >> 1, [0, 0.2]),
      presencePenalty: grid(i >> 2, [0, 0.6]),
      penaltyLastN: grid(i >> 3, [64, 8, 0]),
      minKeep: grid(i >> 5, [0, 3]),
      logitBias: i % 7 === 0 ? { 3: 2.5, 7: -1.25 } : {},
    };
    cases.push({ logits: Array.from(logits), history, options });
  }
  return cases;
}

/** Our filter() on every case equals `ref` (ids in order and float32 logits, exactly). */
function compareChain(
  cases: ReturnType<typeof chainCases>,
  ref: { ids: number[]; logits: number[] }[],
): void {
  let sizes = 0;
  cases.forEach((c, i) => {
    const s = new Sampler(c.options);
    for (const t of c.history) s.accept(t);
    const got = s.filter(Float32Array.from(c.logits));
    const ids = Array.from(got.ids.subarray(0, got.size));
    const lg = Array.from(got.logits.subarray(0, got.size));
    const want = ref[i];
    // greedy (temperature 0) marks all but the best −Infinity: compare the best
    if ((c.options.temperature ?? 0.8) <= 0) {
      assert.equal(ids[argmax(lg)], want.ids[argmax(want.logits)], `case ${i}`);
      return;
    }
    assert.deepEqual(ids, want.ids, `case ${i}: ${JSON.stringify(c.options)}`);
    assert.deepEqual(lg, want.logits, `case ${i}: logits`);
    sizes += ids.length;
  });
  assert.ok(sizes > 1000, `the cases must keep varied candidate sets (kept ${sizes})`);
}

Deno.test({
  name: "sampler chain equals llama.cpp's own samplers (libllama via FFI) on 200 cases",
  ignore: llamaSamplerLib() === null,
  fn() {
    const cases = chainCases();
    compareChain(
      cases,
      cases.map((c) => llamaFilter(Float32Array.from(c.logits), c.history, c.options)),
    );
  },
});

Deno.test({
  name: "sampler chain equals a NumPy float32 re-implementation of llama.cpp's steps (200 cases)",
  ignore: PYTHON === null,
  fn() {
    const cases = chainCases();
    const dir = Deno.makeTempDirSync({ prefix: "samp-" });
    try {
      Deno.writeTextFileSync(`${dir}/cases.json`, JSON.stringify(cases));
      const r = new Deno.Command(PYTHON!, {
        args: ["tests/helpers/sampling_ref.py", `${dir}/cases.json`],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      compareChain(cases, JSON.parse(new TextDecoder().decode(r.stdout)));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("sortTop orders by descending logit, ties by lower id (radix and heap paths)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -6, max: 6 }), { minLength: 1, maxLength: 3000 }),
      fc.integer({ min: 1, max: 50 }),
      (xs, k) => {
        const l = Float32Array.from(xs, (x, i) => x === 0 ? (i % 2 ? -0 : 0) : x / 4);
        const want = Array.from(l, (_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
        for (const kk of [l.length, Math.min(k, l.length)]) {
          const c = candidatesFrom(l);
          sortTop(c, kk);
          assert.deepEqual(Array.from(c.ids.subarray(0, kk)), want.slice(0, kk));
        }
      },
    ),
    { numRuns: 200 },
  );
});
