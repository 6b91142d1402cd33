/**
 * Decoding on the GPU with the loop kept there: a llama-family forward pass of one token as a
 * fixed list of WebGPU dispatches prepared once per model (pipelines, buffers, bind groups,
 * parameters). Per layer, on hardware adapters: RMSNorm fused into one coalesced QKV matvec
 * (llm/model/gpu/matvec.ts), RoPE + KV-cache append, attention split over 32-position chunks and
 * its combine (attend.ts), the output matvec adding the residual, RMSNorm + gate + up + SwiGLU in
 * one matvec, the down matvec adding the residual: 7 dispatches. Software adapters and shapes the
 * coalesced matvec does not take use the WebGPU plugin's `quantLinear` kernels, unfused.
 *
 * The sampled id (greedy argmax) is written into a GPU buffer of token ids that the next step's
 * embedding lookup reads, so K steps are recorded before one readback of K ids (each readback
 * costs ≥ 10 ms in Deno 2.9.6). Stop ids are checked on the host per batch: ids past a stop are
 * discarded and the position rolls back. K grows 4, 8, 16, 32, 64. Prompts run in chunks of up
 * to 512 positions through the tiled matmul and flash attention of prefill.ts (hardware adapters;
 * else chunks of 32 through the 8-row matvec). Scope: llama-style blocks without biases or
 * per-head norms, weights Q4_0, Q8_0, Q4_K, Q6_K, f16, bf16 or f32, f32 KV cache.
 *
 * @module
 */
import { type GpuStorage, MR, webgpuContext } from "../../../backends/runtime.ts";
import { byteOffset, type StorageDType } from "../../../core/dtype.ts";
import { DeviceError, DTypeError, ShapeError } from "../../../core/errors.ts";
import type { Tensor } from "../../../core/tensor.ts";
import type { ModelConfig } from "../config.ts";
import type { ModelWeights } from "../weights.ts";
import {
  checkDispatch,
  checkRequest,
  chunkRows,
  type Dispatch,
  type GpuDecoderOptions,
  type GpuGenerateOptions,
  plainMatvec,
  type Planned,
  profileDispatches,
  rawWeights,
  ropeTable,
  type StepProfile,
  timePass,
  uploadEmbedding,
  uploadNorms,
} from "./host.ts";
import { ARGMAX, attention, EMBED, RMSNORM, SWIGLU, T } from "./kernels.ts";
import { ATTN_COMBINE, attnPart, attnPartBytes, CHUNK, ROPE_QKV } from "./attend.ts";
import { checkSampling, SAMPLE, samplePrm } from "./sample.ts";
import { matvecCode, matvecFits, WG } from "./matvec.ts";
import { flashBytes, flashCode, FQ, PM, PN, tiledBytes, tiledCode } from "./prefill.ts";

/** Bytes of one parameter or step slot (dynamic offsets must be multiples of 256). */
const SLOT = 256;
const STORAGE = 0x80 | 0x8 | 0x4; // STORAGE | COPY_DST | COPY_SRC
/** Prompt positions per prefill chunk: tiled path, 8-row matvec path. */
const TILED_ROWS = 512, MATVEC_ROWS = 32;
const SUBMIT_STEPS = 4; // steps recorded per submit within a batch

export type { GpuDecoderOptions, GpuGenerateOptions, StepProfile } from "./host.ts";

/**
 * A model's forward pass and greedy sampling loop on the WebGPU device.
 *
 * @example
 * ```ts ignore
 * import { GpuDecoder } from "./decoder.ts"; // not yet exported from @aprender/compute/llm
 * // weights and config as loadModel reads them (llm/model/weights.ts, config.ts)
 * const dec = await GpuDecoder.create(weights, config, 512);
 * const ids = await dec.generate([1, 450, 4996], 32); // greedy, 32 new ids
 * console.log(ids.length); // 32 (fewer if a stop id came first)
 * dec.dispose();
 * ```
 */
export class GpuDecoder {
  /** Positions in the KV cache. */
  position = 0;
  #device: GPUDevice;
  #buffers: GPUBuffer[] = [];
  #weights: Tensor<StorageDType>[] = [];
  #full: Dispatch[] = [];
  #greedy: Dispatch[] = [];
  #sampled: Dispatch[] = [];
  #prefill: Dispatch[] = [];
  #ids!: GPUBuffer;
  #pipes = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  #prmData: Int32Array<ArrayBuffer>;
  #prmUsed = 0;
  #prm!: GPUBuffer;
  #stp!: GPUBuffer;

  private constructor(
    device: GPUDevice,
    readonly config: ModelConfig,
    readonly contextLength: number,
  ) {
    this.#device = device;
    this.#prmData = new Int32Array((SLOT / 4) * (config.layers * 32 + 32));
  }

  /**
   * Upload `w` (weights as loadWeights returns them, on the CPU) and prepare every dispatch of a
   * decode step for a cache of `contextLength` positions.
   *
   * @param w the model's weights
   * @param cfg its hyper-parameters
   * @param contextLength positions the KV cache holds
   * @param options prompt kernels (defaults: the fastest that fit the adapter)
   */
  static async create(
    w: ModelWeights,
    cfg: ModelConfig,
    contextLength: number,
    options: GpuDecoderOptions = {},
  ): Promise<GpuDecoder> {
    const ctx = webgpuContext();
    if (!ctx) {
      throw new DeviceError(
        "GpuDecoder: the WebGPU backend is unavailable. Hint: check backends() for the reason.",
      );
    }
    if (w.ln) {
      throw new DTypeError(
        `GpuDecoder: ${cfg.arch} (LayerNorm blocks) is not supported on the GPU yet. Hint: run ` +
          `the model on the CPU (loadModel).`,
      );
    }
    if (w.layers.some((L) => L.bq || L.bk || L.bv || L.qNorm || L.kNorm)) {
      throw new DTypeError(
        `GpuDecoder: ${cfg.arch} blocks with projection biases or per-head norms are not ` +
          `supported on the GPU yet. Hint: run the model on the CPU (loadModel).`,
      );
    }
    const maxCtx = Math.floor(ctx.device.limits.maxComputeWorkgroupStorageSize / 4) - 2 * T;
    if (!Number.isInteger(contextLength) || contextLength < 1 || contextLength > maxCtx) {
      throw new ShapeError(
        `GpuDecoder: contextLength ${contextLength} must be an integer in [1, ${maxCtx}] (the ` +
          `attention kernel keeps a score per position in workgroup memory).`,
      );
    }
    const d = new GpuDecoder(ctx.device, cfg, contextLength);
    await d.#build(w, options);
    return d;
  }

  #buffer(bytes: number): GPUBuffer {
    const b = this.#device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 4) * 4),
      usage: STORAGE,
    });
    this.#buffers.push(b);
    return b;
  }

  #pipe(code: string, arity: number) {
    let p = this.#pipes.get(code);
    if (p) return p;
    const entries: GPUBindGroupLayoutEntry[] = [];
    for (let i = 0; i < arity; i++) {
      entries.push({ binding: i, visibility: 4, buffer: { type: "storage" } });
    }
    for (const b of [arity, arity + 1]) {
      entries.push({
        binding: b,
        visibility: 4,
        buffer: { type: "read-only-storage", hasDynamicOffset: true },
      });
    }
    const layout = this.#device.createBindGroupLayout({ entries });
    const pipeline = this.#device.createComputePipeline({
      layout: this.#device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.#device.createShaderModule({ code }), entryPoint: "main" },
    });
    this.#pipes.set(code, p = { pipeline, layout });
    return p;
  }

  /** A dispatch of `code` over `bufs` with static parameters `prm` (i32 words, f32 as bits). */
  #dispatch(
    name: string,
    code: string,
    bufs: GPUBuffer[],
    prm: number[],
    x: number,
    y = 1,
    per = 0,
  ): Planned {
    const { pipeline, layout } = this.#pipe(code, bufs.length);
    checkDispatch(this.#device, name, bufs, x, y);
    const at = this.#prmUsed;
    this.#prmUsed += SLOT;
    if (this.#prmUsed > this.#prmData.byteLength) throw new Error("GpuDecoder: parameter slots");
    this.#prmData.set(prm, at / 4);
    const entries: GPUBindGroupEntry[] = bufs.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    entries.push({ binding: bufs.length, resource: { buffer: this.#prm, size: SLOT } });
    entries.push({ binding: bufs.length + 1, resource: { buffer: this.#stp, size: SLOT } });
    // The parameter buffer is created after the plan: bind groups are made in #finish.
    return { name, pipeline, layout, entries, prm: at, x, y, per };
  }

  async #build(w: ModelWeights, opts: GpuDecoderOptions): Promise<void> {
    const cfg = this.config, dev = this.#device;
    const simple = webgpuContext()!.simpleKernels;
    const wgMem = dev.limits.maxComputeWorkgroupStorageSize;
    const tiledOn = !simple && (opts.prefill ?? "tiled") === "tiled" && tiledBytes(true) <= wgMem;
    this.#rows = tiledOn ? chunkRows(opts.chunk ?? TILED_ROWS) : MATVEC_ROWS;
    const flashOn = (opts.flash ?? true) && cfg.headDim % 4 === 0 && cfg.valueDim % 4 === 0 &&
      flashBytes(cfg.headDim, cfg.valueDim) <= wgMem;
    const { dim, heads, kvHeads, headDim: hd, valueDim: vd, ffn, vocab, layers } = cfg;
    const f32bits = (v: number) => new Int32Array(new Float32Array([v]).buffer)[0];
    // Step slots: word 0 of slot p is position p.
    this.#stp = dev.createBuffer({ size: (this.contextLength + 1) * SLOT, usage: STORAGE });
    this.#buffers.push(this.#stp);
    const steps = new Uint32Array(((this.contextLength + 1) * SLOT) / 4);
    for (let p = 0; p <= this.contextLength; p++) steps[(p * SLOT) / 4] = p;
    dev.queue.writeBuffer(this.#stp, 0, steps);
    this.#prm = dev.createBuffer({ size: this.#prmData.byteLength, usage: STORAGE });
    this.#buffers.push(this.#prm);
    this.#ids = this.#buffer((this.contextLength + 2) * 4);

    // Embedding table as f32 (decoded once on the host).
    const E = this.#buffer(vocab * dim * 4);
    uploadEmbedding(dev, E, w.embed, dim, vocab);
    const tab = ropeTable(cfg, this.contextLength, w.ropeFreqs);
    const TAB = this.#buffer(tab.byteLength);
    dev.queue.writeBuffer(TAB, 0, tab);

    const R = this.#rows * 4; // bytes per f32 element over a prefill chunk's rows
    const nq = heads * hd, nk = kvHeads * hd, nv = kvHeads * vd;
    const H = this.#buffer(dim * R), XN = this.#buffer(Math.max(dim, heads * vd) * R);
    const QKV = this.#buffer((nq + nk + nv) * R), QR = this.#buffer(nq * R);
    const O = this.#buffer(heads * vd * R);
    const G = this.#buffer(ffn * R), U = this.#buffer(ffn * R), A = this.#buffer(ffn * R);
    const L = this.#buffer(vocab * 4);
    const chunks = Math.ceil(this.contextLength / CHUNK);
    const P = this.#buffer(heads * chunks * (vd + 2) * 4);
    const split = chunks <= 256 &&
      attnPartBytes(hd, vd) <= dev.limits.maxComputeWorkgroupStorageSize;

    const alloc = (bytes: number) => this.#buffer(bytes);
    const norms = [...w.layers.flatMap((Lw) => [Lw.attnNorm, Lw.ffnNorm]), w.norm];
    const { buffer: NWB, at: nwAt } = await uploadNorms(dev, norms, dim, alloc);
    const rawOf = rawWeights(dev, alloc);
    const up = new Map<Tensor<StorageDType>, Tensor<StorageDType>>();
    const upload = async (t: Tensor<StorageDType>) => {
      let g = up.get(t);
      if (!g) {
        g = await t.to("gpu");
        this.#weights.push(g);
        up.set(t, g);
      }
      return g;
    };
    const gbuf = (t: Tensor<StorageDType>) => (t.storage as GpuStorage).buffer;
    const gbase = (t: Tensor<StorageDType>) =>
      (t.storage as GpuStorage).base + byteOffset(t.dtype as StorageDType, t.offset);
    // The cache holds a chunk past the context: rows of a partial tile read them (unused).
    const kvBytes = (this.contextLength + this.#rows) * kvHeads * Math.max(hd, vd) * 4;
    const ropeN = (heads + kvHeads) * hd + kvHeads * vd;
    const attn = attention(this.contextLength);
    const flash = flashCode(hd, vd);
    const caches = Array.from({ length: layers }, () => [
      this.#buffer(kvBytes),
      this.#buffer(kvBytes),
    ]);
    const eps = f32bits(cfg.eps);

    /** The dispatches of a step over `rows` positions (with the head: logits and argmax). */
    const planFor = async (rows: number) => {
      const per1 = rows > 1 ? 1 : 0;
      const rms = (x: GPUBuffer, wt: Tensor, y: GPUBuffer) =>
        this.#dispatch("rmsnorm", RMSNORM, [x, NWB, y], [dim, eps, nwAt.get(wt)!], 1, rows, per1);
      /** The matvec of the plugin's kernel (software adapters, odd shapes) into y at yOff. */
      const old = async (
        x: GPUBuffer,
        wt: Tensor<StorageDType>,
        y: GPUBuffer,
        acc: boolean,
        yOff: number,
      ) => {
        const [n, k] = wt.shape;
        if (!simple && matvecFits(wt.dtype, k, 0)) {
          // One weight alone through the coalesced kernel (its group has mixed types).
          const code = matvecCode({ dt: wt.dtype, mr: rows === 1 ? 1 : MR, acc, lanes: 32 });
          const prm = [rows, n, k, 0, byteOffset(wt.dtype, k), k / 8, 0, 0, yOff];
          const name = `matvec ${wt.dtype}${acc ? " +=" : ""}`;
          return this.#dispatch(
            name,
            code,
            [x, rawOf([wt]), y],
            prm,
            Math.ceil(n / 8),
            Math.ceil(rows / (rows === 1 ? 1 : MR)),
            rows === 1 ? 0 : MR,
          );
        }
        const g = await upload(wt);
        const m = plainMatvec(wt, gbase(g), rows, simple, acc, yOff);
        const per = rows === 1 ? 0 : simple ? 1 : 8;
        return this.#dispatch(m.name, m.code, [x, gbuf(g), y], m.prm, m.x, m.y, per);
      };
      /**
       * y = norm?(x) · [ws]ᵀ (rows of the weights stacked), or silu(x·w0ᵀ) · (x·w1ᵀ) when `pair`;
       * with `acc` added to y. Returns the dispatches and whether the outputs are row-interleaved
       * (one fused matvec) or in one region per weight.
       */
      const mv = async (
        x: GPUBuffer,
        ws: Tensor<StorageDType>[],
        y: GPUBuffer,
        o: { acc?: boolean; norm?: Tensor; pair?: boolean } = {},
      ) => {
        const out: Planned[] = [];
        const dt = ws[0].dtype, k = ws[0].shape[1];
        const fused = !simple &&
          ws.every((t) =>
            t.dtype === dt && t.shape[1] === k && matvecFits(dt, k, 0) &&
            t.bytesSync().length === byteOffset(dt, t.shape[0] * k)
          );
        const inNorm = fused && rows === 1 && o.norm !== undefined;
        let src = x;
        if (o.norm && !inNorm) {
          out.push(rms(x, o.norm, XN));
          src = XN;
        }
        if (fused) {
          const tiled = tiledOn && rows > 1 && k % 32 === 0;
          const mr = rows === 1 ? 1 : tiled ? PM : MR;
          const n = o.pair ? ws[0].shape[0] : ws.reduce((s, t) => s + t.shape[0], 0);
          // Decode: 128 threads per row while the grid fits; prefill: 32 (8 rows share X loads).
          const lanes = rows === 1 && Math.ceil(n / (WG / 128)) <= 65535 ? 128 : 32;
          const code = tiled
            ? tiledCode({ dt, acc: o.acc, pair: o.pair })
            : matvecCode({ dt, mr, acc: o.acc, norm: inNorm, pair: o.pair, lanes });
          const per = tiled ? PN : WG / lanes;
          const bufs = [src, rawOf(ws), y];
          if (inNorm) bufs.push(NWB);
          const name = `matvec ${dt}${inNorm ? " norm" : ""}${o.pair ? " swiglu" : ""}${
            o.acc ? " +=" : ""
          }`;
          const prm = [
            rows,
            n,
            k,
            0,
            byteOffset(dt, k),
            k / 8,
            eps,
            inNorm ? nwAt.get(o.norm!)! : 0,
          ];
          out.push(
            this.#dispatch(
              name,
              code,
              bufs,
              prm,
              Math.ceil(n / per),
              Math.ceil(rows / mr),
              rows === 1 ? 0 : mr,
            ),
          );
        } else if (o.pair) {
          out.push(await old(src, ws[0], G, false, 0), await old(src, ws[1], U, false, 0));
          out.push(
            this.#dispatch("swiglu", SWIGLU, [G, U, y], [ffn * rows], Math.ceil((ffn * rows) / T)),
          );
        } else {
          let at = 0;
          for (const t of ws) {
            out.push(await old(src, t, y, o.acc ?? false, at));
            at += rows * t.shape[0];
          }
        }
        return { out, fused };
      };
      const embed = this.#dispatch(
        "embed",
        EMBED,
        [E, H, this.#ids],
        [dim],
        Math.ceil(dim / T),
        rows,
        per1,
      );
      const body: Planned[] = [];
      for (let l = 0; l < layers; l++) {
        const Lw = w.layers[l];
        const [KC, VC] = caches[l];
        const qkv = await mv(H, [Lw.wq, Lw.wk, Lw.wv], QKV, { norm: Lw.attnNorm });
        body.push(...qkv.out);
        const s = nq + nk + nv;
        const lay = qkv.fused ? [s, nq, s, nq + nk, s] : [nq, rows * nq, nk, rows * (nq + nk), nv];
        const rope = [cfg.ropeDims, cfg.ropeOrder === "neox" ? 1 : 0];
        const aprm = [heads, kvHeads, hd, vd, f32bits(1 / Math.sqrt(hd)), chunks, ...rope];
        if (rows === 1 && split) {
          const part = attnPart(hd, vd), pprm = [...aprm, nq, nq + nk];
          body.push(
            this.#dispatch("attention+rope", part, [QKV, KC, VC, TAB, P], pprm, heads, chunks),
          );
          body.push(this.#dispatch("attention combine", ATTN_COMBINE, [P, O], aprm, heads));
        } else {
          body.push(this.#dispatch(
            "rope+cache",
            ROPE_QKV,
            [QKV, KC, VC, TAB, QR],
            [heads, kvHeads, hd, vd, ...rope, ...lay],
            Math.ceil(ropeN / T),
            rows,
            per1,
          ));
          body.push(
            flashOn && rows > 1
              ? this.#dispatch("flash attention", flash, [QR, KC, VC, O], aprm, heads, 1, FQ)
              : this.#dispatch("attention", attn, [QR, KC, VC, O], aprm, heads, rows, per1),
          );
        }
        body.push(...(await mv(O, [Lw.wo], H, { acc: true })).out);
        body.push(...(await mv(H, [Lw.gate, Lw.up], A, { norm: Lw.ffnNorm, pair: true })).out);
        body.push(...(await mv(A, [Lw.down], H, { acc: true })).out);
      }
      const head = rows > 1 ? [] : [
        ...(await mv(H, [w.output], L, { norm: w.norm })).out,
        this.#dispatch("argmax", ARGMAX, [L, this.#ids], [vocab], 1),
        this.#dispatch("sample", SAMPLE, [L, this.#ids], [vocab], 1),
      ];
      return { embed, body, head };
    };
    const one = await planFor(1);
    const chunk = await planFor(this.#rows);
    dev.queue.writeBuffer(this.#prm, 0, this.#prmData, 0, this.#prmUsed / 4);
    // Weight uploads the plugin gathered (small ones wait for its next submit) go out now.
    webgpuContext()!.flush();
    const fin = (p: Planned): Dispatch => ({
      name: p.name,
      pipeline: p.pipeline,
      group: dev.createBindGroup({ layout: p.layout, entries: p.entries }),
      prm: p.prm,
      x: p.x,
      y: p.y,
      per: p.per,
    });
    const embed = fin(one.embed), blocks = one.body.map(fin);
    const head = one.head.map(fin);
    this.#greedy = this.#full = [embed, ...blocks, ...head.slice(0, -1)];
    this.#sampled = [embed, ...blocks, ...head.slice(0, -2), head.at(-1)!];
    this.#prefill = [fin(chunk.embed), ...chunk.body.map(fin)];
  }

  /** Record `list` (a decode step, or a prompt chunk of `rows` positions) at position `p`. */
  #record(pass: GPUComputePassEncoder, list: Dispatch[], p: number, rows = 1) {
    const offs = this.#offs;
    offs[1] = p * SLOT;
    for (const d of list) {
      pass.setPipeline(d.pipeline);
      offs[0] = d.prm;
      pass.setBindGroup(0, d.group, offs, 0, 2);
      pass.dispatchWorkgroups(d.x, d.per ? Math.ceil(rows / d.per) : d.y);
    }
  }
  #offs = new Uint32Array(2);
  #rows = MATVEC_ROWS; // prompt positions per chunk (activation buffers hold this many rows)

  /**
   * Run `prompt` after the cached positions and greedily generate up to `maxTokens` ids, K steps
   * per readback. Returns the new ids (without a stop id); the cache then holds every position
   * but the last id's.
   *
   * @param prompt token ids to append first (at least one)
   * @param maxTokens most ids to generate
   * @param options stop ids, a callback per batch, the largest batch
   */
  async generate(
    prompt: readonly number[],
    maxTokens: number,
    options: GpuGenerateOptions = {},
  ): Promise<number[]> {
    const start = this.position;
    checkRequest(prompt, maxTokens, this.config.vocab, start, this.contextLength);
    const dev = this.#device;
    dev.queue.writeBuffer(this.#ids, start * 4, Uint32Array.from(prompt));
    const stop = new Set(options.stop ?? []);
    const out: number[] = [];
    let p = start; // next position to run
    const last = start + prompt.length - 1; // the first position whose argmax is wanted
    this.#full = this.#greedy;
    if (options.sampling) {
      const sm = this.#sampled.at(-1)!;
      const prm = samplePrm(this.config.vocab, checkSampling(options.sampling), last);
      dev.queue.writeBuffer(this.#prm, sm.prm, Int32Array.from(prm));
      this.#full = this.#sampled;
    }
    let k = 4;
    while (out.length < maxTokens) {
      // Prompt positions before `last` need no logits; then K full steps.
      // Submitted every SUBMIT_STEPS steps, so the GPU runs while the host records the rest.
      let enc = dev.createCommandEncoder();
      let pass = enc.beginComputePass();
      let recorded = 0;
      const step = () => {
        this.#record(pass, this.#full, p++);
        if (++recorded % SUBMIT_STEPS === 0) {
          pass.end();
          dev.queue.submit([enc.finish()]);
          enc = dev.createCommandEncoder();
          pass = enc.beginComputePass();
        }
      };
      // Prompt positions before the last run in chunks (the last one partial).
      while (p < last) {
        const rows = Math.min(this.#rows, last - p);
        this.#record(pass, this.#prefill, p, rows);
        p += rows;
      }
      const n = Math.min(k, maxTokens - out.length);
      const first = p;
      for (let i = 0; i < n; i++) step();
      pass.end();
      const staging = dev.createBuffer({ size: n * 4, usage: 0x1 | 0x8 });
      enc.copyBufferToBuffer(this.#ids, (first + 1) * 4, staging, 0, n * 4);
      dev.queue.submit([enc.finish()]);
      await staging.mapAsync(0x1);
      const ids = Array.from(new Uint32Array(staging.getMappedRange().slice(0)));
      staging.unmap();
      staging.destroy();
      const cut = ids.findIndex((id) => stop.has(id));
      const got = cut < 0 ? ids : ids.slice(0, cut);
      out.push(...got);
      const halt = options.onTokens?.(got) === true;
      if (cut >= 0) {
        p = first + cut + 1;
        break;
      }
      if (halt) break;
      k = Math.min(k * 2, options.maxBatch ?? 64);
    }
    // The last id is not run: the cache holds positions up to the one before it.
    this.position = p;
    return out;
  }

  /**
   * GPU time of one decode step at the current position (with `prefill`: of one full prompt chunk,
   * {@link GpuDecoder.prefillRows} positions from position 0), per kernel (timestamp queries around each dispatch; needs the
   * `timestamp-query` feature). Outputs are discarded; a prompt chunk recomputes cache rows 0–31.
   *
   * @param prefill profile a prompt chunk instead of a decode step
   */
  async profile(prefill = false): Promise<StepProfile> {
    const p = prefill ? 0 : Math.min(this.position, this.contextLength - 1);
    return await profileDispatches(this.#device, prefill ? this.#prefill : this.#full, p * SLOT);
  }

  /**
   * GPU time (one pass, timestamps at its ends) and host recording time of `n` full decode steps
   * from the current position; the outputs are discarded and the position is kept.
   *
   * @param n steps (the cache must have room for them)
   */
  timeSteps(n: number): Promise<{ gpuNs: number; hostMs: number }> {
    const p0 = this.position;
    if (p0 + n > this.contextLength) throw new ShapeError(`timeSteps: ${n} steps past the context`);
    return timePass(this.#device, (pass) => {
      for (let i = 0; i < n; i++) this.#record(pass, this.#full, p0 + i);
    });
  }

  /**
   * GPU time (one pass, timestamps at its ends) and host recording time of the prefill of positions
   * 0 .. n − 1 in chunks; the outputs (cache rows) are overwritten by later runs.
   *
   * @param n prompt positions (at most the context length)
   */
  timePrefill(n: number): Promise<{ gpuNs: number; hostMs: number }> {
    if (!Number.isInteger(n) || n < 1 || n > this.contextLength) {
      throw new ShapeError(`timePrefill: ${n} positions must be in [1, ${this.contextLength}]`);
    }
    return timePass(this.#device, (pass) => {
      for (let p = 0; p < n; p += this.#rows) {
        this.#record(pass, this.#prefill, p, Math.min(this.#rows, n - p));
      }
    });
  }

  /** Prompt positions per prefill chunk (512 on the tiled path by default, 32 on the matvec path). */
  get prefillRows(): number {
    return this.#rows;
  }

  /** Dispatches of one full decode step. */
  get dispatchesPerStep(): number {
    return this.#full.length;
  }

  /** Free the GPU buffers and weights. */
  dispose(): void {
    for (const b of this.#buffers) b.destroy();
    for (const t of this.#weights) t.dispose();
    this.#buffers = [];
    this.#weights = [];
  }
}
