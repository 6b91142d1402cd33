/**
 * GPU time of compute passes from timestamp queries (the adapter's `timestamp-query` feature):
 * while a timer is attached to the context, every compute pass it begins writes a timestamp at its
 * start and end; the pairs are resolved and summed when read.
 * Wall-clock timings in Deno carry a ≥ 10 ms floor per readback (`mapAsync` polls, then sleeps
 * 10 ms), so this is how the benchmarks see what the GPU itself spends.
 *
 * @module
 */

/** Timestamps (two per pass) of one query set (WebGPU's limit); a timer chains more sets. */
const CAPACITY = 4096;
/** Query sets a timer may chain (so up to 16 × 2048 passes between reads). */
const MAX_SETS = 16;

/** Summed GPU time of the passes a {@link PassTimer} saw. */
export interface PassTime {
  /** Nanoseconds between each pass's start and end timestamps, summed. */
  ns: number;
  /** Passes timed. */
  passes: number;
  /** Nanoseconds of each pass, in order (with {@link PassTimer.labels}: per-dispatch profiles). */
  perPass: number[];
}

/** Begin/end timestamps for compute passes, resolved at submit and summed on {@link read}. */
export class PassTimer {
  #sets: GPUQuerySet[] = [];
  #next = CAPACITY;
  #overflow = false;
  /**
   * Set by the context when every dispatch gets its own pass (a profile): the kernel key of each
   * timed pass, in order.
   */
  labels: string[] | null = null;

  /**
   * A timer on `device`, which must have the `timestamp-query` feature.
   *
   * @param device the GPU device
   * @param perDispatch whether the context should end the pass after every dispatch and label it
   */
  constructor(readonly device: GPUDevice, perDispatch = false) {
    if (perDispatch) this.labels = [];
  }

  /** The `timestampWrites` of the next pass, or undefined once every query set is full. */
  writes(): GPUComputePassTimestampWrites | undefined {
    if (this.#next + 2 > CAPACITY) {
      if (this.#sets.length >= MAX_SETS) {
        this.#overflow = true;
        return undefined;
      }
      this.#sets.push(this.device.createQuerySet({ type: "timestamp", count: CAPACITY }));
      this.#next = 0;
    }
    const w = {
      querySet: this.#sets[this.#sets.length - 1],
      beginningOfPassWriteIndex: this.#next,
      endOfPassWriteIndex: this.#next + 1,
    };
    this.#next += 2;
    return w;
  }

  /** Read and sum the pairs (the passes that wrote them must have been submitted), then free. */
  async read(): Promise<PassTime> {
    if (this.#overflow) {
      throw new Error(
        `webgpu timer: more than ${(MAX_SETS * CAPACITY) / 2} passes; read the timer sooner`,
      );
    }
    let ns = 0;
    const perPass: number[] = [];
    for (let j = 0; j < this.#sets.length; j++) {
      const n = j === this.#sets.length - 1 ? this.#next : CAPACITY;
      if (n === 0) continue;
      const resolve = this.device.createBuffer({ size: n * 8, usage: 0x200 | 0x4 }); // QUERY_RESOLVE | COPY_SRC
      const read = this.device.createBuffer({ size: n * 8, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
      const enc = this.device.createCommandEncoder();
      enc.resolveQuerySet(this.#sets[j], 0, n, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
      this.device.queue.submit([enc.finish()]);
      await read.mapAsync(1, 0, n * 8);
      const t = new BigUint64Array(read.getMappedRange(0, n * 8));
      for (let i = 0; i < n; i += 2) {
        const d = Number(t[i + 1] - t[i]);
        ns += d;
        perPass.push(d);
      }
      read.unmap();
      read.destroy();
      resolve.destroy();
    }
    for (const q of this.#sets) q.destroy();
    this.#sets = [];
    return { ns, passes: perPass.length, perPass };
  }
}
