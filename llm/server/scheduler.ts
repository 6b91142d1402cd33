/**
 * Continuous batching over `--parallel N` slots: each slot owns a KV cache; every step runs the
 * pending tokens of all busy slots (a prompt's prefill or one decode token) through one
 * {@link StepFn} call, samples each slot's next token, and admits queued requests as slots free.
 * A new request takes the free slot whose cached tokens share the longest prefix with its prompt
 * and only prefills the rest.
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";
import type { Tensor } from "../../core/tensor.ts";
import { forward, KVCache } from "../model/forward.ts";
import type { Model } from "../model/model.ts";
import * as modelModule from "../model/mod.ts";
import type { ModelWeights } from "../model/weights.ts";
import { logProbs, type Sampler, type SamplerOptions } from "../sampling/sampler.ts";
import type { GpuDecoder } from "../model/gpu/decoder.ts";
import type { GpuSampling } from "../model/gpu/sample.ts";
import { eogIds, gpuSamplingOf } from "./gpu_slot.ts";
import type { StopMatcher } from "../stop.ts";
import type { StreamDecoder } from "../tokenizer/stream.ts";
import type { GrammarConstraint } from "./constraint.ts";

/** One sequence's input to a step: its cache and the tokens to append after `cache.length`. */
export interface SeqStep {
  /** The slot's KV cache (positions `0..cache.length-1` are valid). */
  cache: KVCache;
  /** New tokens (a prompt chunk, or the last sampled token). */
  tokens: readonly number[];
}

/** Runs one forward step for several sequences; returns each one's last-position logits. */
export type StepFn = (seqs: readonly SeqStep[]) => Float32Array[];

/** The model's packed weights and activation rounding (not public on `Model`). */
function internals(model: Model): { weights: ModelWeights; activations: "f32" | "ggml" } {
  return model as unknown as { weights: ModelWeights; activations: "f32" | "ggml" };
}

/**
 * The step that runs each sequence with its own `forward` call (correct for any model; the
 * batched multi-sequence forward replaces it where available).
 *
 * @example
 * ```ts ignore
 * const step = perSequenceStep(model);
 * const [logits] = step([{ cache, tokens: [1, 2, 3] }]);
 * ```
 */
export function perSequenceStep(model: Model): StepFn {
  const { weights, activations } = internals(model);
  return (seqs) =>
    seqs.map(({ cache, tokens }) => {
      const t: Tensor = forward(weights, model.config, cache, tokens, {
        allLogits: false,
        activations,
      });
      try {
        return (t.dataSync() as Float32Array).slice();
      } finally {
        t.dispose();
      }
    });
}

type BatchFn = (model: Model, seqs: readonly SeqStep[]) => Float32Array[];

/**
 * The best step for `model`: the engine's batched multi-sequence forward (`forwardBatch`, every
 * linear layer once over all slots' new tokens) where this build has it, else
 * {@link perSequenceStep}.
 *
 * @example
 * ```ts ignore
 * const step = defaultStep(model);
 * ```
 */
export function defaultStep(model: Model): StepFn {
  const batch = (modelModule as Record<string, unknown>).forwardBatch as BatchFn | undefined;
  return typeof batch === "function" ? (seqs) => batch(model, seqs) : perSequenceStep(model);
}

/** Why a job ended. */
export type FinishReason = "stop" | "length" | "abort" | "error";

/** A generated token as the job's listener sees it. */
export interface TokenEvent {
  /** Text released by this token (may be empty while a stop string or UTF-8 char is pending). */
  text: string;
  /** The token id. */
  token: number;
  /** Log-probability under the model (raw logits). */
  logprob: number;
  /** The most likely alternatives (when asked). */
  top: { token: number; logprob: number }[];
}

/** One sequence to generate. */
export interface Job {
  /** Prompt token ids (≥ 1). */
  prompt: number[];
  /** Tokens to generate at most. */
  maxTokens: number;
  /** The sampler (prompt tokens are accepted by the scheduler). */
  sampler: Sampler;
  /** The options `sampler` was made with (a GPU slot takes the job when it can draw them). */
  sampling?: SamplerOptions;
  /** Stop strings. */
  stops: StopMatcher;
  /** Incremental detokenizer. */
  decoder: StreamDecoder;
  /** Grammar constraint, or null. */
  constraint: GrammarConstraint | null;
  /** How many alternatives to report per token (0 = none; -1 = no logprobs at all). */
  topLogprobs: number;
  /** Aborts the job at the next step (client gone). */
  signal: AbortSignal;
  /** Each token, in order. */
  onToken(ev: TokenEvent): void;
  /** The end, once. */
  onDone(r: JobResult): void;
}

/** How a job ended. */
export interface JobResult {
  /** Why. */
  finishReason: FinishReason;
  /** Prompt tokens. */
  promptTokens: number;
  /** Of which were reused from the slot's cache. */
  cachedTokens: number;
  /** Generated tokens (EOS not counted). */
  completionTokens: number;
  /** Text left in the stop matcher/decoder at the end. */
  tail: string;
  /** Milliseconds from submission to the first token. */
  firstTokenMs: number;
  /** The error, when finishReason is "error". */
  error?: unknown;
}

/**
 * Thrown by {@link Scheduler.submit} when every slot is busy and the queue is full.
 *
 * @example
 * ```ts
 * import { QueueFullError } from "./scheduler.ts";
 * console.log(new QueueFullError("full", 1).retryAfter); // 1
 * ```
 */
export class QueueFullError extends ComputeError {
  /**
   * A full-queue error.
   *
   * @param message what happened
   * @param retryAfter seconds the client should wait
   */
  constructor(message: string, readonly retryAfter: number) {
    super(message);
  }
}

interface Slot {
  cache: KVCache;
  /** Tokens whose keys/values are in the cache. */
  tokens: number[];
  job: Job | null;
  pending: number[];
  generated: number;
  cached: number;
  submitted: number;
  firstTokenMs: number;
  /** Admission order (prompt chunks go to the earliest admitted first). */
  admitted: number;
}

/** Counters the metrics endpoint reads. */
export interface SchedulerCounters {
  /** Prompt tokens processed (prefilled). */
  promptTokens: number;
  /** Prompt tokens served from a slot's cache. */
  cachedTokens: number;
  /** Tokens generated. */
  generatedTokens: number;
  /** Forward steps run. */
  steps: number;
  /** Jobs finished, by reason. */
  finished: Record<FinishReason, number>;
  /** Milliseconds spent in steps. */
  busyMs: number;
}

/**
 * Prompt tokens one step takes, over all slots still prefilling, first admitted first: a long
 * prompt prefills over several steps, and a burst of new requests is prefilled a few prompts at a
 * time, so the slots already decoding get a token at every step (a step never carries more than
 * this many prompt rows) and the first requests of a burst get their first token after one or two
 * steps instead of after the whole burst's prefill. 64 rows fill one activation tile of the
 * several-row kernels (backends/cpu/src/qgemm_tile.c, qrepack.c), so splitting there costs no
 * extra weight passes.
 */
const PREFILL_BUDGET = 64;

/**
 * The slot scheduler.
 *
 * @example
 * ```ts ignore
 * const s = new Scheduler(model, { parallel: 4, contextLength: 2048, maxQueue: 64 });
 * s.submit(job);
 * ```
 */
export class Scheduler {
  /** Counters for /metrics. */
  readonly counters: SchedulerCounters = {
    promptTokens: 0,
    cachedTokens: 0,
    generatedTokens: 0,
    steps: 0,
    finished: { stop: 0, length: 0, abort: 0, error: 0 },
    busyMs: 0,
  };
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private readonly submittedAt = new WeakMap<Job, number>();
  private running = false;
  private closed = false;
  private killed = false;
  private idle: (() => void)[] = [];
  /** Jobs admitted so far (the slots' admission order). */
  private admissions = 0;
  /** Recent (time, tokens) of steps, for the tok/s gauge. */
  private recent: [number, number][] = [];

  /**
   * Allocate `parallel` slots with a KV cache of `contextLength` positions each.
   *
   * @param model the loaded model
   * @param opts slots, context per slot, queue bound and the step function
   */
  constructor(
    readonly model: Model,
    readonly opts: {
      parallel: number;
      contextLength: number;
      maxQueue: number;
      step?: StepFn;
      /** Decode on this GPU decoder the jobs it can take (one slot only). */
      gpu?: GpuDecoder;
    },
  ) {
    this.step = opts.step ?? defaultStep(model);
    this.slots = [];
    for (let i = 0; i < opts.parallel; i++) {
      this.slots.push({
        cache: new KVCache(model.config, opts.contextLength),
        tokens: [],
        job: null,
        pending: [],
        generated: 0,
        cached: 0,
        submitted: 0,
        firstTokenMs: 0,
        admitted: 0,
      });
    }
  }

  /** The forward step over several sequences. */
  private readonly step: StepFn;

  /** Busy slots. */
  get active(): number {
    return this.slots.filter((s) => s.job).length;
  }

  /** Jobs waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Slots. */
  get parallel(): number {
    return this.slots.length;
  }

  /** Bytes of all slots' KV caches. */
  get cacheBytes(): number {
    return this.slots.reduce((a, s) => a + s.cache.bytes, 0);
  }

  /** Tokens in the slots' caches (kept for prefix reuse). */
  get cachedPositions(): number[] {
    return this.slots.map((s) => s.cache.length);
  }

  /** Tokens per second over the last 10 s of steps. */
  get tokensPerSecond(): number {
    const now = performance.now();
    this.recent = this.recent.filter(([t]) => now - t < 10_000);
    if (this.recent.length < 2) return 0;
    const span = (now - this.recent[0][0]) / 1000;
    return this.recent.reduce((a, [, n]) => a + n, 0) / Math.max(span, 1e-3);
  }

  /**
   * Queue a job (it starts at the next step when a slot is free).
   *
   * @param job the job
   * @throws QueueFullError when all slots are busy and the queue holds `maxQueue` jobs
   */
  submit(job: Job): void {
    if (this.closed) throw new QueueFullError("the server is shutting down", 1);
    if (this.active + this.queue.length >= this.parallel + this.opts.maxQueue) {
      const tps = Math.max(this.tokensPerSecond, 1);
      const retry = Math.max(
        1,
        Math.ceil((this.queue.length * job.maxTokens) / tps / this.parallel),
      );
      throw new QueueFullError(
        `all ${this.parallel} slots are busy and ${this.queue.length} requests are queued ` +
          `(--queue ${this.opts.maxQueue})`,
        retry,
      );
    }
    this.submittedAt.set(job, performance.now());
    this.queue.push(job);
    if (!this.running) {
      this.running = true;
      setTimeout(() => this.loop(), 0);
    }
  }

  /** Resolves when no job is running or queued. */
  drained(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** Stop admitting jobs; abort queued ones. */
  close(): void {
    this.closed = true;
    for (const j of this.queue.splice(0)) this.end(j, null, "abort", "");
  }

  /** Abort every running and queued job at the next step. */
  abortAll(): void {
    this.close();
    this.killed = true;
  }

  /** Free the KV caches (after `drained()`). */
  dispose(): void {
    for (const s of this.slots) s.cache.dispose();
  }

  /** Move queued jobs into free slots, each to the slot sharing the longest prompt prefix. */
  private admit(): void {
    while (this.queue.length) {
      const free = this.slots.filter((s) => !s.job);
      if (!free.length) return;
      const job = this.queue.shift()!;
      if (job.signal.aborted) {
        this.end(job, null, "abort", "");
        continue;
      }
      let best = free[0], bestLen = -1;
      for (const s of free) {
        let n = 0;
        while (n < s.tokens.length && n < job.prompt.length && s.tokens[n] === job.prompt[n]) n++;
        if (n > bestLen) (best = s), (bestLen = n);
      }
      const reuse = Math.min(bestLen, job.prompt.length - 1);
      best.job = job;
      best.cache.length = reuse;
      best.tokens.length = reuse;
      best.pending = job.prompt.slice(reuse);
      best.generated = 0;
      best.cached = reuse;
      best.submitted = this.submittedAt.get(job) ?? performance.now();
      best.firstTokenMs = 0;
      best.admitted = ++this.admissions;
      for (const t of job.prompt) job.sampler.accept(t);
      this.counters.cachedTokens += reuse;
    }
  }

  /** Finish a job (and free its slot). */
  private end(job: Job, slot: Slot | null, reason: FinishReason, tail: string, error?: unknown) {
    this.counters.finished[reason]++;
    if (slot) slot.job = null;
    try {
      job.onDone({
        finishReason: reason,
        promptTokens: job.prompt.length,
        cachedTokens: slot?.cached ?? 0,
        completionTokens: slot?.generated ?? 0,
        tail,
        firstTokenMs: slot?.firstTokenMs ?? 0,
        error,
      });
    } catch (e) {
      console.error("server: a request's completion handler threw:", e);
    }
  }

  /** Step until no slot is busy and nothing is queued. */
  private async loop(): Promise<void> {
    try {
      for (;;) {
        for (const s of this.slots) {
          if (s.job && (this.killed || s.job.signal.aborted)) this.end(s.job, s, "abort", "");
        }
        this.admit();
        const busy = this.slots.filter((s) => s.job);
        if (!busy.length) break;
        const gpu = this.opts.gpu && busy.length === 1 ? this.gpuPlan(busy[0]) : null;
        if (gpu) await this.runGpu(busy[0], this.opts.gpu!, gpu.sampling);
        else this.runStep(busy);
        // let the HTTP side write chunks, read new requests and notice disconnects
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      this.running = false;
      for (const r of this.idle.splice(0)) r();
      if (this.queue.length && !this.closed) {
        this.running = true;
        setTimeout(() => this.loop(), 0);
      }
    }
  }

  /**
   * One forward step over the busy slots: every decoding slot's token and up to
   * {@link PREFILL_BUDGET} prompt tokens of the prefilling ones (earliest admitted first); then one
   * sampled token for each slot whose prompt is done.
   */
  private runStep(all: Slot[]): void {
    const budget = new Map<Slot, number>();
    let left = PREFILL_BUDGET;
    for (const s of all.filter((s) => s.generated === 0).sort((a, b) => a.admitted - b.admitted)) {
      const n = Math.min(s.pending.length, left);
      budget.set(s, n);
      left -= n;
    }
    const busy = all.filter((s) => (budget.get(s) ?? 1) > 0);
    const feeds = busy.map((s) => s.pending.slice(0, budget.get(s) ?? s.pending.length));
    const t0 = performance.now();
    let logits: Float32Array[];
    try {
      for (const [i, s] of busy.entries()) {
        if (s.cache.length + feeds[i].length > s.cache.size) {
          throw new ComputeError(`slot context of ${s.cache.size} positions is full`);
        }
      }
      logits = this.step(busy.map((s, i) => ({ cache: s.cache, tokens: feeds[i] })));
    } catch (e) {
      for (const s of busy) {
        s.cache.length = 0;
        s.tokens.length = 0;
        this.end(s.job!, s, "error", "", e);
      }
      return;
    }
    const dt = performance.now() - t0;
    this.counters.steps++;
    this.counters.busyMs += dt;
    let made = 0;
    for (const [i, s] of busy.entries()) {
      const fed = feeds[i];
      s.tokens.push(...fed);
      s.pending = s.pending.slice(fed.length);
      if (s.generated === 0 && s.pending.length === 0) {
        this.counters.promptTokens += s.job!.prompt.length - s.cached;
      }
      if (s.pending.length > 0) continue; // prompt not finished
      made++;
      this.sampleInto(s, logits[i]);
    }
    this.note(made);
  }

  /** Count `made` tokens now for the tok/s gauge. */
  private note(made: number): void {
    const now = performance.now();
    this.recent.push([now, made]);
    // keep only the gauge's 10 s window (the array must not grow with uptime)
    let drop = 0;
    while (drop < this.recent.length && now - this.recent[drop][0] >= 10_000) drop++;
    if (drop) this.recent.splice(0, drop);
  }

  /** Sample the slot's next token from its logits and deliver it. */
  private sampleInto(s: Slot, raw: Float32Array): void {
    const job = s.job!;
    try {
      let l = raw;
      if (job.constraint) {
        l = raw.slice();
        job.constraint.mask(l, job.maxTokens - s.generated);
      }
      const token = job.sampler.sample(l);
      job.sampler.accept(token);
      if (s.generated === 0) s.firstTokenMs = performance.now() - s.submitted;
      const tok = this.model.tokenizer;
      if (tok.isEog(token)) {
        this.end(job, s, "stop", this.flush(job));
        return;
      }
      job.constraint?.accept(token);
      s.generated++;
      this.counters.generatedTokens++;
      const { text, stop } = job.stops.push(job.decoder.push(token));
      let logprob = 0, top: TokenEvent["top"] = [];
      if (job.topLogprobs >= 0) {
        const lp = logProbs(raw, job.topLogprobs);
        logprob = raw[token] - lp.logSumExp;
        top = lp.top;
      }
      job.onToken({ text, token, logprob, top });
      if (stop !== null) return this.end(job, s, "stop", "");
      if (job.constraint?.finished) return this.end(job, s, "stop", this.flush(job));
      if (s.generated >= job.maxTokens || s.cache.length + 1 > s.cache.size) {
        return this.end(job, s, "length", this.flush(job));
      }
      s.pending = [token];
    } catch (e) {
      this.end(job, s, "error", "", e);
    }
  }

  /** The GPU sampling of a job just admitted, or null when it runs on the CPU. */
  private gpuPlan(s: Slot): { sampling?: GpuSampling } | null {
    const job = s.job!;
    if (s.generated > 0 || this.cpuJobs.has(job)) return null;
    const dec = this.opts.gpu!;
    const g = job.constraint || job.topLogprobs >= 0
      ? "grammar or logprobs"
      : dec.contextLength < this.opts.contextLength &&
          job.prompt.length + job.maxTokens - 1 > dec.contextLength
      ? "past the GPU context"
      : gpuSamplingOf(job.sampling);
    if (typeof g === "string") {
      this.cpuJobs.add(job);
      return null;
    }
    return g;
  }
  private readonly cpuJobs = new WeakSet<Job>();
  private gpuTokens: number[] = []; // ids in the GPU decoder's cache, for prefix reuse
  private eog: number[] | null = null;

  /**
   * Run slot `s`'s job to its end on the GPU decoder: the prompt after the prefix its cache shares,
   * then batches of ids read back (llm/model/gpu/decoder.ts), each delivered like a sampled token.
   */
  private async runGpu(s: Slot, dec: GpuDecoder, sampling?: GpuSampling): Promise<void> {
    const job = s.job!, prompt = job.prompt;
    const prev = this.gpuTokens, most = Math.min(prev.length, prompt.length - 1);
    let reuse = 0;
    while (reuse < most && prev[reuse] === prompt[reuse]) reuse++;
    this.counters.cachedTokens += reuse - s.cached;
    s.cached = reuse;
    const n = Math.min(job.maxTokens, dec.contextLength - prompt.length + 1);
    if (n < 1) {
      const e = new ComputeError(`GPU context of ${dec.contextLength} positions is full`);
      return this.end(job, s, "error", "", e);
    }
    this.counters.promptTokens += prompt.length - reuse;
    this.gpuTokens = [];
    dec.position = reuse;
    const got: number[] = [];
    let ended = false;
    const t0 = performance.now();
    try {
      await dec.generate(prompt.slice(reuse), n, {
        stop: this.eog ??= eogIds(this.model.tokenizer, this.model.config.vocab),
        sampling,
        onTokens: (ids) => {
          if (s.generated === 0) s.firstTokenMs = performance.now() - s.submitted;
          for (const id of ids) {
            got.push(id);
            if ((ended = this.deliver(s, id))) break;
          }
          this.counters.steps += ids.length;
          this.note(ids.length);
          if (!ended && (this.killed || job.signal.aborted)) {
            this.end(job, s, "abort", "");
            ended = true;
          }
          return ended;
        },
      });
    } catch (e) {
      if (!ended) this.end(job, s, "error", "", e);
      return;
    } finally {
      this.counters.busyMs += performance.now() - t0;
    }
    this.gpuTokens = [...prompt, ...got].slice(0, dec.position);
    // Fewer ids than asked without a stop on the host: an end-of-generation id came.
    if (!ended) this.end(job, s, got.length < n ? "stop" : "length", this.flush(job));
  }

  /** Deliver GPU-sampled `token` of slot `s`; true when the job ended. */
  private deliver(s: Slot, token: number): boolean {
    const job = s.job!;
    job.sampler.accept(token);
    s.generated++;
    this.counters.generatedTokens++;
    const { text, stop } = job.stops.push(job.decoder.push(token));
    job.onToken({ text, token, logprob: 0, top: [] });
    if (stop !== null) this.end(job, s, "stop", "");
    else if (s.generated >= job.maxTokens) this.end(job, s, "length", this.flush(job));
    else return false;
    return true;
  }

  /** Text still held by the decoder and the stop matcher. */
  private flush(job: Job): string {
    return job.stops.push(job.decoder.flush()).text + job.stops.flush();
  }
}
