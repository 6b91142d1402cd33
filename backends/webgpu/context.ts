/**
 * The WebGPU context: adapter and device, a pool of storage buffers, the shared command encoder
 * that every op records into (one submit per flush, not per op), and the pipeline cache.
 *
 * Per-dispatch cost is what limits chains of small ops, so a dispatch does as little as it can:
 * - dispatches share one open compute pass (it is only ended for copies and clears);
 * - kernel metadata (shapes, strides, offsets) goes into one CPU-side arena, written to one GPU
 *   buffer by a single `writeBuffer` at submit time and bound with a dynamic offset;
 * - bind groups are cached by (layout, buffers): pooled buffers are stable, so a chain of ops on
 *   same-sized tensors reuses them;
 * - a buffer returned to the pool only becomes reusable after the next submit. So a buffer handed
 *   out by the pool is never referenced by commands still in the encoder, and uploads into it can
 *   use `queue.writeBuffer` directly (it runs before the pending commands, which never saw it);
 * - pooled buffers are zero-filled lazily: a kernel that overwrites its whole output skips the
 *   clear, anything that might read stale bytes clears first.
 *
 * Index errors found by kernels (an index out of range on the GPU cannot throw when recorded) set
 * a flag in a small buffer that every readback fetches: the next `await t.data()` throws an
 * IndexError naming the op.
 *
 * @module
 */
import { type PassTime, PassTimer } from "./timing.ts";
import type { DeviceProvider, OwnedView, Storage } from "../../core/backend/plugin.ts";
import { byteLength, type DType } from "../../core/dtype.ts";
import { DeviceError, IndexError } from "../../core/errors.ts";
import { type Chunk, Fifo, GpuStorage, LAZY_MAX, padded } from "./storage.ts";
import { f16ChunkFromEnv } from "./kernels/matmul_f16.ts";

export { type Chunk, GpuStorage, LAZY_MAX };

/** A compiled kernel: its pipeline and the bind-group layout its buffers follow. */
export interface Kernel {
  /** The compute pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Layout of binding group 0: storage buffers then the metadata slot (dynamic offset). */
  readonly layout: GPUBindGroupLayout;
  /** Layout id for the bind-group cache. */
  readonly id: number;
  /** Number of storage buffers before the metadata. */
  readonly arity: number;
  /** The cache key it was compiled under (names the kernel in profiles). */
  readonly key: string;
}

const USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
/** Metadata slot: 64 words (256 bytes) is enough for every kernel here. */
export const SLOT_WORDS = 64;
const ARENA_BYTES = 1 << 18;
/** Storages up to this size are slots of shared slab buffers (few buffers: bind groups reused). */
const SLAB_MAX = 1 << 16;
const SLAB_BYTES = 1 << 21;
/** Uploads up to this size are gathered and written with one writeBuffer per submit. */
const SMALL_UPLOAD = 4096;
const UPLOAD_BYTES = 1 << 18;
/** Flush when buffers waiting to return to the pool hold this much. */
const MAX_RELEASED_BYTES = 512 * (1 << 20);

/** Ops whose kernels report index errors, by code (1-based) in the error flag. */
export const INDEX_OPS = ["take", "gather", "scatter", "scatterAdd"];

/** `APRENDER_WEBGPU_KERNELS`, or undefined without permission to read the environment. */
function envKernels(): string | undefined {
  try {
    return Deno.env.get("APRENDER_WEBGPU_KERNELS");
  } catch {
    return undefined;
  }
}

/** Everything the plugin holds on one GPU device. */
export class GpuContext {
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  #pool = new Map<number, Fifo>();
  #slabs = new Map<number, { buffer: GPUBuffer; next: number }>();
  #released: Chunk[] = [];
  #releasedBytes = 0;
  #kernels = new Map<string, Kernel>();
  #layouts = new Map<string, GPUBindGroupLayout>();
  #layoutIds = 0;
  #groups = new Map<number, Map<number | string, GPUBindGroup>>();
  #ids = new WeakMap<GPUBuffer, number>();
  #nextId = 1;
  #lost: string | null = null;
  #error: string | null = null;
  #garbage: GPUBuffer[] = [];
  #arena = new ArrayBuffer(ARENA_BYTES);
  #metaBuf: GPUBuffer;
  #metaUsed = 0;
  #slotBytes: number;
  #slot = 0;
  #up = new Uint8Array(UPLOAD_BYTES);
  #upBuf: GPUBuffer;
  #upUsed = 0;
  #upCopies: { dst: GPUBuffer; dstOffset: number; srcOffset: number; n: number }[] = [];
  /** The metadata arena as i32 (write a slot's words after {@link slot}). */
  readonly mi: Int32Array = new Int32Array(this.#arena);
  /** The metadata arena as f32 (float attributes). */
  readonly mf: Float32Array = new Float32Array(this.#arena);
  /** Index-error flag, bound read-write by the indexing kernels. */
  readonly errBuf: GPUBuffer;
  /** Offset alignment of storage bindings, in bytes. */
  readonly align: number;
  /**
   * The device's `maxStorageBufferBindingSize` (read once: Deno's `device.limits` getter builds
   * a fresh object per call, ~0.1 µs, which per-op checks paid).
   */
  readonly maxBinding: number;
  /** Flushes so far: a storage used in the current one has `interval === this.interval`. */
  interval = 0;
  /**
   * Dispatches recorded before they are submitted without waiting for a readback: the GPU starts
   * on a long chain of ops while the host records the rest (a submit costs tens of µs). On the
   * H100, 1000 dependent small ops and one readback took 35.7 µs/op in wall time with 1024,
   * 30.2 with 256 and 30.6 with 128.
   */
  batch = 256;
  /**
   * f16 × f16 matmul on a device with `shader-f16`: f16 products summed in f16 over chunks of this
   * many K terms, then in f32 (4, 8, 16, 32 or 64; kernels/matmul_f16.ts), or 0 for the f32-math
   * kernel (inputs widened to f32). `APRENDER_WEBGPU_F16_GEMM` sets it (a number, or "f32" for 0).
   * Default 32: on the H100, 4096² took 39.4 TFLOP/s with 32-term chunks over 32-term K tiles
   * (16: 35.3, 64: 40.4, f32 math 30.8) at a max error of 0.55 units of 2⁻¹¹·(Σ|a||b| + |c|)
   * (PyTorch's fp16 matmul: 0.43; 64-term chunks: 0.79).
   */
  f16GemmChunk: number = f16ChunkFromEnv();
  /** K tile of the f16-math GEMM: 16 or 32 (kernels/matmul_f16.ts; 32 was faster on the H100). */
  f16GemmTile = 32;
  /** Dispatches recorded since the context was made (for tests and benchmarks). */
  dispatches = 0;
  /** Submits since the context was made. */
  submits = 0;
  /** Bind groups created (cache misses). */
  bindGroups = 0;
  /** 1-element operands passed to kernels in the metadata instead of a buffer. */
  paramOperands = 0;
  /** GPU → CPU reads of tensor storage (each waits for the GPU: a training step makes none). */
  readbacks = 0;
  /** CPU → GPU writes of tensor storage (uploads, tiny ones kept on the host included). */
  writes = 0;
  /** Bytes of those writes. */
  writeBytes = 0;

  /**
   * Wrap a device: error reporting, the metadata arena, the upload arena and the error flag.
   *
   * @param adapter the adapter the device came from
   * @param device the GPU device
   */
  constructor(readonly adapter: GPUAdapter, readonly device: GPUDevice) {
    device.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
    // Validation errors (a bad shader, a bad binding) surface as errors on the next check,
    // never as silently skipped work.
    device.addEventListener("uncapturederror", (e) => {
      this.#error ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    const limits = device.limits;
    this.align = Math.max(16, limits.minStorageBufferOffsetAlignment);
    this.maxBinding = limits.maxStorageBufferBindingSize;
    this.#slotBytes = Math.ceil((SLOT_WORDS * 4) / this.align) * this.align;
    this.#metaBuf = device.createBuffer({ size: ARENA_BYTES, usage: 0x80 | 0x8 });
    this.#upBuf = device.createBuffer({ size: UPLOAD_BYTES, usage: 0x4 | 0x8 });
    this.errBuf = device.createBuffer({ size: 16, usage: USAGE });
  }

  /**
   * Whether kernels take their simple forms (one thread per output, no large tiles): true on a
   * software adapter (Mesa's lavapipe or llvmpipe), where compiling a tiled GEMM or conv takes
   * minutes under llvmpipe's GL driver and the tiles buy nothing on a CPU. The environment variable
   * `APRENDER_WEBGPU_KERNELS=tiled` keeps the tiled forms there too (CI tests them on lavapipe).
   */
  get simpleKernels(): boolean {
    return this.#simple ??= this.adapter.info.isFallbackAdapter && envKernels() !== "tiled";
  }
  #simple: boolean | undefined;

  /**
   * Start timing GPU work: from now on every compute pass records timestamps (the adapter's
   * `timestamp-query` feature). With `perDispatch` every dispatch gets its own pass, labelled
   * with its kernel's key in the timer (a profile: slower, for attributing GPU time to kernels).
   * Returns false where the device lacks the feature.
   */
  startTiming(perDispatch = false): boolean {
    if (!this.device.features.has("timestamp-query")) return false;
    this.flush();
    this.#timer = new PassTimer(this.device, perDispatch);
    return true;
  }

  /** Kernel keys of the passes timed since {@link startTiming} with `perDispatch`, in order. */
  get timingLabels(): readonly string[] | null {
    return this.#timer?.labels ?? null;
  }

  /** Submit what is pending and return the GPU time of the passes since {@link startTiming}. */
  async stopTiming(): Promise<PassTime> {
    const timer = this.#timer;
    if (!timer) throw new Error("webgpu: stopTiming() without startTiming()");
    this.flush();
    this.#timer = null;
    return await timer.read();
  }
  #timer: PassTimer | null = null;
  #readFlush: Promise<void> | null = null;

  /** Whether the adapter's f16 shader feature is enabled on the device. */
  get hasF16(): boolean {
    return this.device.features.has("shader-f16");
  }

  /** Throw a DeviceError if the device was lost or a command failed validation. */
  check(): void {
    if (this.#lost) {
      throw new DeviceError(
        `webgpu: the GPU device was lost (${this.#lost}). Hint: recreate tensors.`,
      );
    }
    if (this.#error) {
      const msg = this.#error;
      this.#error = null;
      throw new DeviceError(`webgpu: a GPU command failed validation: ${msg}`);
    }
  }

  /** The shared encoder, created on first use after a flush. */
  get encoder(): GPUCommandEncoder {
    this.#endPass();
    this.check();
    return this.#encoder ??= this.device.createCommandEncoder();
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  /**
   * Submit everything recorded so far (one submit). `advance` false keeps the interval counter
   * (used when a kernel between marking its buffers and recording its dispatch runs out of
   * metadata room: its buffers stay marked as used by pending work, which is conservative).
   */
  flush(advance = true): void {
    this.#endPass();
    const cmds: GPUCommandBuffer[] = [];
    if (this.#upCopies.length) {
      // Small uploads: one write, then copies that run before everything recorded since.
      this.device.queue.writeBuffer(this.#upBuf, 0, this.#up.buffer, 0, this.#upUsed);
      const pre = this.device.createCommandEncoder();
      for (const c of this.#upCopies) {
        pre.copyBufferToBuffer(this.#upBuf, c.srcOffset, c.dst, c.dstOffset, c.n);
      }
      cmds.push(pre.finish());
      this.#upCopies = [];
      this.#upUsed = 0;
    }
    if (this.#encoder) {
      if (this.#metaUsed > 0) {
        this.device.queue.writeBuffer(this.#metaBuf, 0, this.#arena, 0, this.#metaUsed);
      }
      cmds.push(this.#encoder.finish());
      this.#encoder = null;
    }
    if (cmds.length) {
      this.device.queue.submit(cmds);
      this.submits++;
    }
    this.#metaUsed = 0;
    // Staging buffers of the submitted work: destroyed once submitted (freed after the GPU ran).
    for (const b of this.#garbage) b.destroy();
    this.#garbage = [];
    for (const c of this.#released) {
      let list = this.#pool.get(c.size);
      if (!list) this.#pool.set(c.size, list = new Fifo());
      list.push(c);
    }
    this.#released = [];
    this.#releasedBytes = 0;
    this.#pending = 0;
    if (advance) this.interval++;
  }

  /**
   * Reserve the metadata slot of the next dispatch and return its first word's index in
   * {@link mi}/{@link mf}.
   */
  slot(): number {
    const bytes = this.#slotBytes;
    if (this.#metaUsed + bytes > ARENA_BYTES) this.flush(false);
    this.#slot = this.#metaUsed;
    this.#metaUsed += bytes;
    return this.#slot / 4;
  }

  /** A compute pipeline for WGSL `code()` with `arity` storage buffers (`w` marks writable ones). */
  kernel(key: string, access: string, code: () => string): Kernel {
    key += `|${access}`;
    let k = this.#kernels.get(key);
    if (k) return k;
    let layout = this.#layouts.get(access);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [...access].map((c, binding) => ({
        binding,
        visibility: 4,
        buffer: { type: c === "w" ? "storage" : "read-only-storage" },
      }));
      entries.push({
        binding: access.length,
        visibility: 4,
        buffer: { type: "read-only-storage", hasDynamicOffset: true },
      });
      layout = this.device.createBindGroupLayout({ entries });
      this.#layouts.set(access, layout);
    }
    const module = this.device.createShaderModule({ code: code() });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    k = { pipeline, layout, id: this.#layoutIds++, arity: access.length, key };
    this.#kernels.set(key, k);
    return k;
  }

  /**
   * Binding access string of a dispatch: inputs read-only ("r") and outputs writable ("w"), or
   * every binding writable when an input shares a buffer with an output (small storages share
   * slab buffers; several writable bindings of one buffer are allowed, read-only next to
   * writable is not).
   */
  access(ins: readonly GPUBuffer[], outs: readonly GPUBuffer[]): string {
    let clash = false;
    for (const b of ins) if (outs.includes(b)) clash = true;
    return (clash ? "w" : "r").repeat(ins.length) + "w".repeat(outs.length);
  }

  #id(b: GPUBuffer): number {
    let id = this.#ids.get(b);
    if (id === undefined) this.#ids.set(b, id = this.#nextId++);
    return id;
  }

  /**
   * Record one dispatch of `k` over `x`×`y`×`z` workgroups with `buffers` bound in order and the
   * metadata slot last reserved by {@link slot}.
   */
  run(k: Kernel, buffers: readonly GPUBuffer[], x: number, y = 1, z = 1): void {
    if (this.#slot >= this.#metaUsed) throw new Error("webgpu: dispatch without a metadata slot");
    const group = this.#group(k, buffers);
    let pass = this.#pass;
    if (!pass) {
      this.check();
      pass = this.#pass = (this.#encoder ??= this.device.createCommandEncoder()).beginComputePass(
        this.#timer ? { timestampWrites: this.#timer.writes() } : undefined,
      );
      this.#pipeline = null;
    }
    if (this.#pipeline !== k.pipeline) {
      pass.setPipeline(k.pipeline);
      this.#pipeline = k.pipeline;
    }
    // The dynamic offset through a reused Uint32Array (a JS array costs a conversion per call:
    // 1.0 vs 0.4 µs per setBindGroup on lavapipe).
    this.#dyn[0] = this.#slot;
    pass.setBindGroup(0, group, this.#dyn, 0, 1);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    if (this.#timer?.labels) {
      this.#timer.labels.push(k.key);
      this.#endPass(); // a profile: one pass (two timestamps) per dispatch
    }
    // Bound the encoder so a long chain without readback still reaches the GPU.
    if (++this.#pending >= this.batch) this.flush();
  }
  #pipeline: GPUComputePipeline | null = null;
  #dyn = new Uint32Array(1);
  #groupCount = 0;
  #lastKernel: Kernel | null = null;
  #lastBuffers: GPUBuffer[] = [];
  #lastGroup: GPUBindGroup | null = null;

  /**
   * The bind group of `k` over `buffers`: the last one when the same kernel binds the same buffers
   * again (a chain of ops on small tensors in one slab buffer), else cached by layout, then by the
   * buffers' ids (a number for up to three small ids, a string otherwise).
   */
  #group(k: Kernel, buffers: readonly GPUBuffer[]): GPUBindGroup {
    const last = this.#lastBuffers;
    if (k === this.#lastKernel && buffers.length === last.length) {
      let same = true;
      for (let i = 0; i < buffers.length; i++) if (buffers[i] !== last[i]) same = false;
      if (same) return this.#lastGroup!;
    }
    let byBuffers = this.#groups.get(k.id);
    if (!byBuffers) this.#groups.set(k.id, byBuffers = new Map());
    let key: number | string = 0;
    for (let i = 0; i < buffers.length; i++) {
      const id = this.#id(buffers[i]);
      if (typeof key === "number" && i < 3 && id < 1 << 17) key = key * (1 << 17) + id;
      else key = `${key},${id}`;
    }
    let group = byBuffers.get(key);
    if (!group) {
      if (++this.#groupCount > 8192) {
        this.#groups.clear();
        this.#groupCount = 1;
        this.#groups.set(k.id, byBuffers = new Map());
      }
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
        binding,
        resource: { buffer },
      }));
      entries.push({
        binding: buffers.length,
        resource: { buffer: this.#metaBuf, offset: 0, size: SLOT_WORDS * 4 },
      });
      group = this.device.createBindGroup({ layout: k.layout, entries });
      this.bindGroups++;
      byBuffers.set(key, group);
    }
    this.#lastKernel = k;
    this.#lastBuffers = buffers.slice();
    this.#lastGroup = group;
    return group;
  }

  /** Size class of an allocation: powers of two up to 1 MiB, then 1 MiB steps. */
  static sizeClass(n: number): number {
    const min = Math.max(n, 16);
    if (min <= 1 << 20) return 1 << (32 - Math.clz32(min - 1));
    return Math.ceil(min / (1 << 20)) * (1 << 20);
  }

  /** A chunk of at least `bytes` bytes from the pool; `dirty` when its bytes are stale. */
  acquire(bytes: number): { chunk: Chunk; dirty: boolean } {
    const size = GpuContext.sizeClass(bytes);
    const reused = this.#pool.get(size)?.pop();
    if (reused) return { chunk: reused, dirty: true };
    if (size <= SLAB_MAX) {
      let slab = this.#slabs.get(size);
      if (!slab || slab.next + size > SLAB_BYTES) {
        slab = { buffer: this.device.createBuffer({ size: SLAB_BYTES, usage: USAGE }), next: 0 };
        this.#slabs.set(size, slab);
      }
      const chunk = { buffer: slab.buffer, base: slab.next, size };
      slab.next += size;
      return { chunk, dirty: false };
    }
    const buffer = this.device.createBuffer({ size, usage: USAGE });
    return { chunk: { buffer, base: 0, size }, dirty: false };
  }

  /** Return a chunk to the pool (reusable after the next submit). */
  release(chunk: Chunk): void {
    this.#released.push(chunk);
    this.#releasedBytes += chunk.size;
    if (this.#releasedBytes > MAX_RELEASED_BYTES) this.flush(false);
  }

  /** A scratch chunk for a kernel's intermediate results; give it back with {@link release}. */
  scratch(bytes: number): Chunk {
    return this.acquire(bytes).chunk;
  }

  /** Free every pooled buffer that is not a slab (e.g. after a large workload). */
  trim(): void {
    this.flush();
    for (const list of this.#pool.values()) {
      list.drain((c) => {
        if (c.size > SLAB_MAX) c.buffer.destroy();
      });
    }
    this.#pool.clear();
    this.#slabs.clear();
    this.#groups.clear();
    this.#groupCount = 0;
    this.#lastKernel = null;
  }

  /** Zero-fill a pooled storage whose stale bytes could be seen. */
  clean(s: GpuStorage): void {
    s.chunk; // places a lazy storage first (it may come back dirty)
    if (!s.dirty) return;
    s.dirty = false;
    this.encoder.clearBuffer(s.buffer, s.base, Math.ceil(s.byteLength / 4) * 4);
    s.interval = this.interval;
  }

  /** The buffer of a storage a kernel reads. */
  input(s: GpuStorage): GPUBuffer {
    const buffer = s.buffer; // places a lazy storage first (it may come back dirty)
    if (s.dirty) this.clean(s);
    s.interval = this.interval;
    return buffer;
  }

  /** The buffer of a storage a kernel writes: `whole` when every byte of it is overwritten. */
  output(s: GpuStorage, whole: boolean): GPUBuffer {
    if (whole) s.host = null; // a lazy storage's bytes are overwritten: no upload
    const buffer = s.buffer;
    if (s.dirty) {
      if (whole) s.dirty = false;
      else this.clean(s);
    }
    s.interval = this.interval;
    return buffer;
  }

  /**
   * A contiguous scratch view in this context's buffers (its bytes are zero on first read), for
   * a kernel's temporaries; the kernel disposes it.
   */
  scratchView(shape: readonly number[], dtype: DType): OwnedView {
    const size = shape.reduce((a, b) => a * b, 1);
    const { chunk, dirty } = this.acquire(byteLength(dtype, size));
    const storage = new GpuStorage(chunk, byteLength(dtype, size));
    storage.dirty = dirty;
    storage.refs = 1;
    const strides = new Array<number>(shape.length);
    for (let i = shape.length - 1, st = 1; i >= 0; st *= shape[i--]) strides[i] = st;
    return {
      storage,
      shape,
      strides,
      offset: 0,
      dtype,
      device: "gpu",
      ndim: shape.length,
      size,
      isContiguous: true,
      dispose: () => {
        if (storage.freed) return;
        storage.freed = true;
        storage.refs = 0;
        this.release(chunk);
      },
    };
  }

  /**
   * Copy `bytes` into a storage at `byteOffset`: before the pending commands where none of them
   * references the storage (small ones gathered into one write per submit), else staged and
   * copied in order with them.
   */
  upload(s: GpuStorage, bytes: Uint8Array, byteOffset: number): void {
    const n = Math.ceil(bytes.byteLength / 4) * 4;
    if (n === 0) return;
    const whole = byteOffset === 0 && bytes.byteLength >= s.byteLength;
    const data = bytes.byteLength === n && bytes.buffer instanceof ArrayBuffer
      ? bytes as Uint8Array<ArrayBuffer>
      : padded(bytes, n);
    const buffer = s.buffer, base = s.base;
    if (s.interval !== this.interval && byteOffset % 4 === 0 && (whole || !s.dirty)) {
      // No pending command references this buffer: its upload may run before them.
      if (whole) s.dirty = false;
      if (n <= SMALL_UPLOAD) {
        if (this.#upUsed + n > UPLOAD_BYTES) this.flush();
        this.#up.set(data.subarray(0, n), this.#upUsed);
        this.#upCopies.push({
          dst: buffer,
          dstOffset: base + byteOffset,
          srcOffset: this.#upUsed,
          n,
        });
        this.#upUsed += n;
      } else this.device.queue.writeBuffer(buffer, base + byteOffset, data, 0, n);
      return;
    }
    // Else stage it and copy inside the encoder, ordered with the pending commands.
    this.clean(s);
    const staging = this.device.createBuffer({ size: n, usage: 0x4 | 0x8 });
    this.device.queue.writeBuffer(staging, 0, data, 0, n);
    this.encoder.copyBufferToBuffer(staging, 0, buffer, base + byteOffset, n);
    s.interval = this.interval;
    this.#garbage.push(staging);
  }

  /** The device provider that places tensor storage in this context's buffers. */
  provider(): DeviceProvider {
    return {
      name: "gpu",
      alloc: (byteLength: number) => {
        if (byteLength <= LAZY_MAX) return new GpuStorage(null, byteLength, this);
        const { chunk, dirty } = this.acquire(byteLength);
        const s = new GpuStorage(chunk, byteLength);
        s.dirty = dirty;
        return s;
      },
      free: (s: Storage) => {
        if ((s as GpuStorage).placed) this.release((s as GpuStorage).chunk);
      },
      write: (st: Storage, bytes: Uint8Array, byteOffset = 0) => {
        const s = st as GpuStorage;
        this.writes++;
        this.writeBytes += bytes.byteLength;
        if (!s.placed && byteOffset === 0 && bytes.byteLength >= s.byteLength) {
          // Stays on the host until a kernel binds it.
          const words: number[] = [];
          for (let i = 0; i < s.byteLength; i += 4) {
            let w = 0;
            for (let b = Math.min(3, s.byteLength - 1 - i); b >= 0; b--) w = w * 256 + bytes[i + b];
            words.push(w);
          }
          s.host = words;
          return;
        }
        this.upload(s, bytes, byteOffset);
      },
      read: async (st: Storage, byteOffset = 0, byteLength?: number) => {
        const s = st as GpuStorage;
        this.readbacks++;
        const n = byteLength ?? s.byteLength - byteOffset;
        const start = Math.floor(byteOffset / 4) * 4;
        const span = Math.ceil((byteOffset + n - start) / 4) * 4;
        const staging = this.device.createBuffer({ size: span + 16, usage: 0x1 | 0x8 });
        this.clean(s);
        const enc = this.encoder;
        if (span > 0) enc.copyBufferToBuffer(s.buffer, s.base + start, staging, 0, span);
        enc.copyBufferToBuffer(this.errBuf, 0, staging, span, 16);
        enc.clearBuffer(this.errBuf);
        // Reads started together (Promise.all of several data()) record their copies first and
        // share one submit, then one wait: each wait costs ≥ 10 ms in Deno's WebGPU.
        await (this.#readFlush ??= Promise.resolve().then(() => {
          this.#readFlush = null;
          this.flush();
        }));
        await staging.mapAsync(0x1);
        this.check();
        const mapped = staging.getMappedRange(0, span + 16);
        const out = new Uint8Array(mapped.slice(byteOffset - start, byteOffset - start + n));
        const flag = new Uint32Array(mapped, span, 1)[0];
        staging.unmap();
        staging.destroy();
        if (flag) {
          const op = INDEX_OPS[flag - 1] ?? "an indexing op";
          throw new IndexError(
            `${op}: an index was out of range on the GPU (found by a kernel recorded before ` +
              `this readback; its output holds zeros there). Hint: run it on the CPU to see ` +
              `which index: await t.to("cpu").`,
          );
        }
        return out;
      },
    };
  }
}
