/**
 * The WebGPU context: adapter and device, a pool of storage buffers, the shared command encoder
 * that every op records into (one submit per flush, not per op), and the pipeline cache.
 *
 * Ordering rule: `queue.writeBuffer` runs when called, before commands still waiting in the
 * encoder, so uploads write a fresh staging buffer and copy it inside the encoder.
 *
 * @module
 */
import type { DeviceProvider, Storage } from "../backend.ts";
import { DeviceError } from "../../core/errors.ts";

/** A GPU buffer holding one tensor storage. */
export class GpuStorage implements Storage {
  /** Always "gpu". */
  readonly device = "gpu";
  /** Live tensors using it. */
  refs = 0;
  /** Set once freed. */
  freed = false;
  /**
   * Wrap a pooled buffer.
   *
   * @param buffer the GPU buffer (its size may exceed byteLength: pooled by size class)
   * @param byteLength bytes the tensor uses
   */
  constructor(readonly buffer: GPUBuffer, readonly byteLength: number) {}
}

const USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */

/** Everything the plugin holds on one GPU device. */
export class GpuContext {
  #encoder: GPUCommandEncoder | null = null;
  #pending = 0;
  #pool = new Map<number, GPUBuffer[]>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #lost: string | null = null;
  #error: string | null = null;
  #garbage: GPUBuffer[] = [];
  /** Dispatches recorded since the context was made (for tests and benchmarks). */
  dispatches = 0;
  /** Submits since the context was made. */
  submits = 0;

  /**
   * Hold a device: watch for its loss and its validation errors.
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
  }

  /** Throw a DeviceError if the device was lost (instead of hanging on the next readback). */
  check(): void {
    if (this.#lost) {
      throw new DeviceError(
        `webgpu: the GPU device was lost (${this.#lost}). Hint: recreate tensors.`,
      );
    }
  }

  /** The shared encoder, created on first use after a flush. */
  get encoder(): GPUCommandEncoder {
    this.check();
    return this.#encoder ??= this.device.createCommandEncoder();
  }

  /** Submit everything recorded so far (one submit). */
  flush(): void {
    if (!this.#encoder) return;
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    // Metadata buffers of the submitted work: destroyed once submitted (freed after the GPU ran).
    for (const b of this.#garbage) b.destroy();
    this.#garbage = [];
    this.#pending = 0;
    this.submits++;
  }

  /** Record one dispatch of `pipeline` over `groups` workgroups with `buffers` bound in order. */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    groups: readonly [number, number?, number?],
  ): void {
    const bind = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const pass = this.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    pass.end();
    this.dispatches++;
    // Bound the encoder so a long chain without readback still reaches the GPU.
    if (++this.#pending >= 512) this.flush();
  }

  /** A compute pipeline for WGSL `code`, cached by `key` (kernel and shape class). */
  pipeline(key: string, code: string): GPUComputePipeline {
    let p = this.#pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /**
   * A small read-only buffer holding `data` (kernel metadata);
   * destroyed after the next submit.
   */
  meta(data: Uint32Array | Int32Array | Float32Array): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    // Written through the queue: a fresh buffer is not used by pending commands, so the write's
    // ordering is safe (and mappedAtCreation writes do not reach the GPU in this runtime).
    const b = this.device.createBuffer({ size, usage: 0x80 | 0x8 });
    const bytes = new Uint8Array(size);
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.device.queue.writeBuffer(b, 0, bytes);
    this.#garbage.push(b);
    return b;
  }

  /** Size class of an allocation: powers of two up to 1 MiB, then 1 MiB steps. */
  static sizeClass(n: number): number {
    const min = Math.max(n, 16);
    if (min <= 1 << 20) return 1 << Math.ceil(Math.log2(min));
    return Math.ceil(min / (1 << 20)) * (1 << 20);
  }

  /** A zero-filled buffer of at least `bytes` bytes from the pool. */
  acquire(bytes: number): GPUBuffer {
    const size = GpuContext.sizeClass(bytes);
    const free = this.#pool.get(size);
    const reused = free?.pop();
    if (reused) {
      this.encoder.clearBuffer(reused);
      return reused;
    }
    return this.device.createBuffer({ size, usage: USAGE });
  }

  /** Return a buffer to the pool. */
  release(buffer: GPUBuffer): void {
    const list = this.#pool.get(buffer.size);
    if (list) list.push(buffer);
    else this.#pool.set(buffer.size, [buffer]);
  }

  /** Free every pooled buffer (e.g. after a large workload). */
  trim(): void {
    this.flush();
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
  }

  /** The device provider that places tensor storage in this context's buffers. */
  provider(): DeviceProvider {
    return {
      name: "gpu",
      alloc: (byteLength: number) => new GpuStorage(this.acquire(byteLength), byteLength),
      free: (s: Storage) => this.release((s as GpuStorage).buffer),
      write: (s: Storage, bytes: Uint8Array, byteOffset = 0) => {
        // Uploads go through a fresh staging buffer copied inside the shared encoder, so they
        // stay ordered with the pending commands and need no flush (a weak scalar per op is
        // cheap). A fresh buffer is never used by pending work, so writeBuffer into it is safe.
        const n = Math.ceil(bytes.byteLength / 4) * 4;
        if (n === 0) return;
        const staging = this.device.createBuffer({ size: n, usage: 0x4 | 0x8 });
        const data = padded(bytes, n);
        this.device.queue.writeBuffer(staging, 0, data.buffer, 0, n);
        this.encoder.copyBufferToBuffer(staging, 0, (s as GpuStorage).buffer, byteOffset, n);
        this.#garbage.push(staging);
      },
      read: async (s: Storage, byteOffset = 0, byteLength?: number) => {
        const n = byteLength ?? s.byteLength - byteOffset;
        const start = Math.floor(byteOffset / 4) * 4;
        const span = Math.ceil((byteOffset + n - start) / 4) * 4;
        const staging = this.device.createBuffer({ size: Math.max(span, 4), usage: 0x1 | 0x8 });
        if (span > 0) {
          this.encoder.copyBufferToBuffer((s as GpuStorage).buffer, start, staging, 0, span);
        }
        this.flush();
        await staging.mapAsync(0x1);
        this.check();
        const out = new Uint8Array(
          staging.getMappedRange(0, Math.max(span, 4)).slice(
            byteOffset - start,
            byteOffset - start + n,
          ),
        );
        staging.unmap();
        staging.destroy();
        return out;
      },
    };
  }
}

function padded(bytes: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const p = new Uint8Array(n);
  p.set(bytes);
  return p;
}
