/**
 * A seeded token sampler with llama.cpp's chain and defaults.
 *
 * @module
 */
import { ComputeError, IndexError } from "../../core/errors.ts";
import { philox4x32 } from "../../core/random.ts";
import {
  type Candidates,
  candidatesFrom,
  draw,
  minP,
  penalize,
  temperature,
  topK,
  topP,
  typical,
} from "./steps.ts";

/**
 * Invalid sampler options or inputs.
 *
 * @example
 * ```ts
 * import { Sampler, SamplerError } from "@aprender/compute/llm";
 * try {
 *   new Sampler({ topP: 2 });
 * } catch (e) {
 *   console.log(e instanceof SamplerError); // true
 * }
 * ```
 */
export class SamplerError extends ComputeError {}

/**
 * Sampler settings. Defaults are llama.cpp's (`common_params_sampling`), except the seed, which
 * is 0 rather than random so that runs repeat unless asked otherwise.
 *
 * @example
 * ```ts
 * import type { SamplerOptions } from "@aprender/compute/llm";
 * const greedy: SamplerOptions = { temperature: 0 };
 * console.log(greedy.temperature); // 0
 * ```
 */
export interface SamplerOptions {
  /** Seed of the draws (64-bit). Default 0. */
  seed?: number | bigint;
  /** Temperature; ≤ 0 is greedy (argmax after bias and penalties). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; ≤ 0 keeps all. Default 40. */
  topK?: number;
  /** Nucleus mass; 1 keeps all. Default 0.95. */
  topP?: number;
  /** Keep tokens with p ≥ minP · p_max; 0 keeps all. Default 0.05. */
  minP?: number;
  /** Locally typical mass; 1 keeps all. Default 1. */
  typicalP?: number;
  /** Repetition penalty (1 = none). Default 1. */
  repeatPenalty?: number;
  /** Frequency penalty, per occurrence. Default 0. */
  frequencyPenalty?: number;
  /** Presence penalty, once per seen token. Default 0. */
  presencePenalty?: number;
  /** How many of the last accepted tokens the penalties look at; 0 disables them. Default 64. */
  penaltyLastN?: number;
  /** Added to the logits of these ids before anything else (−Infinity bans a token). */
  logitBias?: Record<number, number> | Map<number, number>;
  /** The fewest candidates top-p, min-p and typical keep. Default 0. */
  minKeep?: number;
}

/**
 * One sampled token with log-probabilities from the model's distribution (log-softmax of the
 * raw logits, before bias, penalties and truncation, as OpenAI-style `logprobs` report).
 *
 * @example
 * ```ts
 * import { Sampler } from "@aprender/compute/llm";
 * const r = new Sampler({ temperature: 0 }).sampleDetailed(new Float32Array([0, 1]), 1);
 * console.log(r.token, r.top.length); // 1 1
 * ```
 */
export interface SampleResult {
  /** The chosen token id. */
  token: number;
  /** Its log-probability. */
  logprob: number;
  /** The most likely tokens with their log-probabilities, best first. */
  top: { token: number; logprob: number }[];
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new SamplerError(`Sampler: ${msg}`);
}

/**
 * Samples token ids from logits: logit bias → repetition/frequency/presence penalties → top-k →
 * typical → top-p → min-p → temperature → draw (llama.cpp's default chain and its step
 * semantics). Draw `d` uses the uniform `U53(w0, w1)` of the Philox4x32-10 block with key =
 * the seed's two 32-bit halves and counter `(d mod 2^32, floor(d / 2^32), 0x736D706C, 0)` (see
 * core/random.ts), so a (seed, draw) pair always gives the same choice.
 *
 * @example
 * ```ts
 * import { Sampler } from "@aprender/compute/llm";
 * const s = new Sampler({ seed: 42, temperature: 0.7, topK: 2 });
 * const id = s.sample(new Float32Array([0.1, 3, 2.5, -1]));
 * console.log(id === 1 || id === 2); // true
 * s.accept(id);
 * ```
 */
export class Sampler {
  private readonly o: Required<Omit<SamplerOptions, "logitBias" | "seed">>;
  private readonly bias: [number, number][];
  private readonly key: [number, number];
  private readonly history: number[] = [];
  private readonly counts = new Map<number, number>();
  private drawCount = 0;
  private scratch: Candidates | undefined;

  /**
   * A sampler with the given settings and an empty penalty window.
   *
   * @param options settings (see {@link SamplerOptions})
   * @throws SamplerError for an out-of-range setting
   */
  constructor(options: SamplerOptions = {}) {
    const o = {
      temperature: options.temperature ?? 0.8,
      topK: options.topK ?? 40,
      topP: options.topP ?? 0.95,
      minP: options.minP ?? 0.05,
      typicalP: options.typicalP ?? 1,
      repeatPenalty: options.repeatPenalty ?? 1,
      frequencyPenalty: options.frequencyPenalty ?? 0,
      presencePenalty: options.presencePenalty ?? 0,
      penaltyLastN: options.penaltyLastN ?? 64,
      minKeep: options.minKeep ?? 0,
    };
    for (const [k, v] of Object.entries(o)) {
      check(typeof v === "number" && !Number.isNaN(v), `${k} must be a number, got ${String(v)}`);
    }
    check(Number.isInteger(o.topK), `topK must be an integer, got ${o.topK}`);
    check(o.topP >= 0 && o.topP <= 1, `topP must be in [0, 1], got ${o.topP}`);
    check(o.minP >= 0 && o.minP <= 1, `minP must be in [0, 1], got ${o.minP}`);
    check(o.typicalP >= 0 && o.typicalP <= 1, `typicalP must be in [0, 1], got ${o.typicalP}`);
    check(o.repeatPenalty > 0, `repeatPenalty must be > 0, got ${o.repeatPenalty}`);
    check(
      Number.isInteger(o.penaltyLastN) && o.penaltyLastN >= 0,
      `penaltyLastN must be a non-negative integer, got ${o.penaltyLastN}`,
    );
    check(Number.isInteger(o.minKeep) && o.minKeep >= 0, `minKeep must be ≥ 0, got ${o.minKeep}`);
    this.o = o;
    const lb = options.logitBias;
    this.bias = lb === undefined
      ? []
      : lb instanceof Map
      ? [...lb]
      : Object.entries(lb).map(([k, v]) => [Number(k), v]);
    for (const [id, b] of this.bias) {
      check(Number.isInteger(id) && id >= 0, `logitBias key ${id} is not a token id`);
      check(typeof b === "number" && !Number.isNaN(b), `logitBias[${id}] is ${b}, not a number`);
    }
    const seed = options.seed ?? 0;
    check(
      typeof seed === "bigint" || Number.isSafeInteger(seed),
      `seed must be a safe integer or a bigint, got ${String(seed)}`,
    );
    const s = BigInt.asUintN(64, BigInt(seed));
    this.key = [Number(s & 0xffffffffn), Number(s >> 32n)];
  }

  /** How many draws this sampler has made. */
  get draws(): number {
    return this.drawCount;
  }

  /**
   * Record a generated (or prompt) token for the penalties.
   *
   * @param token the token id
   */
  accept(token: number): void {
    const n = this.o.penaltyLastN;
    if (n === 0) return;
    this.history.push(token);
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    if (this.history.length > n) {
      const old = this.history.shift()!;
      const c = this.counts.get(old)! - 1;
      if (c === 0) this.counts.delete(old);
      else this.counts.set(old, c);
    }
  }

  /** Forget the accepted tokens (the draw counter keeps going). */
  reset(): void {
    this.history.length = 0;
    this.counts.clear();
  }

  /** All tokens as candidates with the logit bias and the penalties applied. */
  private prepare(logits: Float32Array): Candidates {
    check(logits instanceof Float32Array, "logits must be a Float32Array");
    check(logits.length > 0, "logits are empty");
    const c = candidatesFrom(logits, this.scratch);
    this.scratch = c;
    for (const [id, b] of this.bias) {
      if (id >= logits.length) {
        throw new IndexError(
          `Sampler: logitBias names token ${id}, outside the vocabulary [0, ${logits.length})`,
        );
      }
      c.logits[id] = Math.fround(c.logits[id] + b);
    }
    const o = this.o;
    if (
      o.penaltyLastN > 0 &&
      (o.repeatPenalty !== 1 || o.frequencyPenalty !== 0 || o.presencePenalty !== 0)
    ) {
      penalize(c, this.counts, o.repeatPenalty, o.frequencyPenalty, o.presencePenalty);
    }
    return c;
  }

  /**
   * The candidates after bias, penalties and truncation, before the draw (for inspection; the
   * list is this sampler's scratch space, overwritten by its next call).
   *
   * @param logits one logit per vocabulary entry
   * @returns the surviving candidates
   */
  filter(logits: Float32Array): Candidates {
    const c = this.prepare(logits);
    const o = this.o;
    topK(c, o.topK);
    typical(c, o.typicalP, o.minKeep);
    topP(c, o.topP, o.minKeep);
    minP(c, o.minP, o.minKeep);
    temperature(c, o.temperature);
    return c;
  }

  /**
   * The uniform number of draw `d` (see the class documentation).
   *
   * @param d the draw index
   * @returns a double in [0, 1)
   */
  uniform(d: number): number {
    const w = philox4x32([d >>> 0, Math.floor(d / 4294967296) >>> 0, 0x736d706c, 0], this.key);
    return ((w[0] >>> 5) * 67108864 + (w[1] >>> 6)) / 9007199254740992;
  }

  /**
   * Choose the next token.
   *
   * @param logits one logit per vocabulary entry (not modified)
   * @returns the token id
   * @throws SamplerError when every token is excluded (all logits −Infinity or NaN)
   */
  sample(logits: Float32Array): number {
    // greedy: top-k, top-p and min-p always keep the best token, so only typical can change it
    const c = this.o.temperature <= 0 && this.o.typicalP >= 1
      ? this.prepare(logits)
      : this.filter(logits);
    let best = -1;
    for (let i = 0; i < c.size; i++) {
      if (c.logits[i] > -Infinity && (best < 0 || c.logits[i] > c.logits[best])) best = i;
    }
    check(
      best >= 0,
      "every token is excluded (logits all -Infinity or NaN after bias and penalties); " +
        "hint: check logitBias and the model's output",
    );
    const u = this.uniform(this.drawCount++);
    return this.o.temperature <= 0 ? c.ids[best] : draw(c, u);
  }

  /**
   * Choose the next token and report log-probabilities.
   *
   * @param logits one logit per vocabulary entry
   * @param topLogprobs how many of the most likely tokens to report
   * @returns the token, its log-probability and the top alternatives
   */
  sampleDetailed(logits: Float32Array, topLogprobs = 0): SampleResult {
    const token = this.sample(logits);
    const lp = logProbs(logits, topLogprobs);
    return { token, logprob: logits[token] - lp.logSumExp, top: lp.top };
  }
}

/**
 * Log-softmax summary of a logit vector: log-sum-exp (accumulated in float64) and the `k` most
 * likely tokens with their log-probabilities (ties: lower id first).
 *
 * @example
 * ```ts
 * import { logProbs } from "@aprender/compute/llm";
 * const r = logProbs(new Float32Array([0, Math.log(3)]), 1);
 * console.log(r.top[0].token, Math.exp(r.top[0].logprob).toFixed(2)); // 1 "0.75"
 * ```
 *
 * @param logits one logit per vocabulary entry
 * @param k how many top tokens to return
 * @returns the log-sum-exp and the top k
 */
export function logProbs(
  logits: Float32Array,
  k = 0,
): { logSumExp: number; top: { token: number; logprob: number }[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const top: { token: number; logprob: number }[] = [];
  if (k > 0) {
    const c = candidatesFrom(logits);
    topK(c, Math.min(k, logits.length));
    for (let i = 0; i < c.size; i++) {
      top.push({ token: c.ids[i], logprob: logits[c.ids[i]] - lse });
    }
  }
  return { logSumExp: lse, top };
}
