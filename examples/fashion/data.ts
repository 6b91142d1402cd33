/**
 * Fashion-MNIST for training: the IDX files read with `loadIdx`, pixels normalized with the
 * training set's mean and standard deviation, and seeded per-epoch shuffles (a pure function of
 * the seed and the epoch, so a resumed run sees exactly the batches an uninterrupted run would).
 *
 * @module
 */
import { fromTyped, Generator, loadIdx, type Tensor, tidy } from "../../mod.ts";

/** Mean and standard deviation of the Fashion-MNIST training pixels scaled to [0, 1]. */
export const MEAN = 0.2860;
/** See {@link MEAN}. */
export const STD = 0.3530;

/** Class names, by label. */
export const CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

/** A split held on the host: normalized images (N·28·28, C order) and labels. */
export interface Split {
  /** Number of images. */
  n: number;
  /** Normalized pixels, image after image. */
  images: Float32Array;
  /** Labels 0..9. */
  labels: Int32Array;
}

/** Load `train` or `t10k` from `dir`, keeping the first `limit` images (0: all). */
export async function loadSplit(dir: string, split: "train" | "t10k", limit = 0): Promise<Split> {
  const imgs = await loadIdx(`${dir}/${split}-images-idx3-ubyte.gz`);
  const labs = await loadIdx(`${dir}/${split}-labels-idx1-ubyte.gz`);
  try {
    if (imgs.shape.length !== 3 || imgs.shape[1] !== 28 || imgs.shape[2] !== 28) {
      throw new Error(`${split} images have shape [${imgs.shape}], expected [N, 28, 28].`);
    }
    if (labs.shape.length !== 1 || labs.shape[0] !== imgs.shape[0]) {
      throw new Error(`${split} labels have shape [${labs.shape}], expected [${imgs.shape[0]}].`);
    }
    const n = limit > 0 ? Math.min(limit, imgs.shape[0]) : imgs.shape[0];
    const images = tidy(() =>
      imgs.slice({ stop: n }).astype("f32").div(255).sub(MEAN).div(STD).dataSync() as Float32Array
    );
    const labels = Int32Array.from((labs.dataSync() as Uint8Array).subarray(0, n));
    return { n, images: images.slice(), labels };
  } finally {
    imgs.dispose();
    labs.dispose();
  }
}

/**
 * The order of the training images in epoch `epoch` (0-based): a Fisher–Yates shuffle driven by
 * the library's counter-based generator seeded with (seed, epoch).
 */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const gen = new Generator((BigInt(seed) << 24n) + BigInt(epoch));
  const u = gen.rand([Math.max(0, n - 1)], { dtype: "f64" });
  const r = u.dataSync() as Float64Array;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r[i - 1] * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  u.dispose();
  return order;
}

const PIXELS = 28 * 28;

/** A batch: images (B, 1, 28, 28) f32 and labels (B,) i32, as new tensors the caller disposes. */
export function batch(split: Split, indices: ArrayLike<number>): { x: Tensor; y: Tensor } {
  const b = indices.length;
  const xs = new Float32Array(b * PIXELS);
  const ys = new Int32Array(b);
  for (let k = 0; k < b; k++) {
    const i = indices[k];
    xs.set(split.images.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS);
    ys[k] = split.labels[i];
  }
  return { x: fromTyped(xs, [b, 1, 28, 28], "f32"), y: fromTyped(ys, [b], "i32") };
}
