/**
 * GPU time of compute passes from timestamp queries (the adapter's `timestamp-query` feature):
 * while a timer is attached to the context, every compute pass it begins writes a timestamp at its
 * start and end; the pairs are resolved and summed when read.
 * Wall-clock timings in Deno carry a ≥ 10 ms floor per readback (`mapAsync` polls, then sleeps
 * 10 ms), so this is how the benchmarks see what the GPU itself spends.
 *
 * @module
 */

/** Timestamps (two per pass) a timer holds before it must be read. */
const CAPACITY = 4096;

/** Summed GPU time of the passes a {@link PassTimer} saw. */
export interface PassTime {
  /** Nanoseconds between each pass's start and end timestamps, summed. */
  ns: number;
  /** Passes timed. */
  passes: number;
}

/** Begin/end timestamps for compute passes, resolved at submit and summed on {@link read}. */
export class PassTimer {
  #set: GPUQuerySet;
  #resolve: GPUBuffer;
  #read: GPUBuffer;
  #next = 0;
  #overflow = false;

  /**
   * A timer on `device`, which must have the `timestamp-query` feature.
   *
   * @param device the GPU device
   */
  constructor(readonly device: GPUDevice) {
    this.#set = device.createQuerySet({ type: "timestamp", count: CAPACITY });
    this.#resolve = device.createBuffer({ size: CAPACITY * 8, usage: 0x200 | 0x4 }); // QUERY_RESOLVE | COPY_SRC
    this.#read = device.createBuffer({ size: CAPACITY * 8, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  }

  /** The `timestampWrites` of the next pass, or undefined once the query set is full. */
  writes(): GPUComputePassTimestampWrites | undefined {
    if (this.#next + 2 > CAPACITY) {
      this.#overflow = true;
      return undefined;
    }
    const w = {
      querySet: this.#set,
      beginningOfPassWriteIndex: this.#next,
      endOfPassWriteIndex: this.#next + 1,
    };
    this.#next += 2;
    return w;
  }

  /** Read and sum the pairs (the passes that wrote them must have been submitted), then free. */
  async read(): Promise<PassTime> {
    if (this.#overflow) {
      throw new Error(`webgpu timer: more than ${CAPACITY / 2} passes; read the timer sooner`);
    }
    const n = this.#next;
    let ns = 0;
    if (n > 0) {
      // One resolve of every query at the end (resolve offsets must be 256-byte aligned).
      const enc = this.device.createCommandEncoder();
      enc.resolveQuerySet(this.#set, 0, n, this.#resolve, 0);
      enc.copyBufferToBuffer(this.#resolve, 0, this.#read, 0, n * 8);
      this.device.queue.submit([enc.finish()]);
      await this.#read.mapAsync(1, 0, n * 8);
      const t = new BigUint64Array(this.#read.getMappedRange(0, n * 8));
      for (let i = 0; i < n; i += 2) ns += Number(t[i + 1] - t[i]);
      this.#read.unmap();
    }
    this.#set.destroy();
    this.#resolve.destroy();
    this.#read.destroy();
    return { ns, passes: n / 2 };
  }
}
