/**
 * ImageNet preprocessing as torchvision's classification weights expect it
 * (`ResNet18_Weights.IMAGENET1K_V1.transforms()`): resize the shorter side to 256 with
 * antialiased bilinear interpolation (PIL's filter), center-crop 224, scale to [0, 1], normalize
 * with the ImageNet mean and standard deviation. Written on host arrays: images arrive as pixel
 * bytes (decoded by the caller, e.g. from a canvas's `ImageData`).
 *
 * @module
 */
import { tensor } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { ShapeError } from "../../core/errors.ts";

/** ImageNet channel means (RGB). */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

/** Pixels in row-major height × width × channels order (RGB or RGBA; alpha is ignored). */
export interface ImagePixels {
  /** Bytes 0–255, or floats 0–1. */
  data: Uint8Array | Uint8ClampedArray | Float32Array;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** 3 (RGB) or 4 (RGBA, as `ImageData`); default 4 if `data` holds 4 per pixel, else 3. */
  channels?: number;
}

/** Options of {@link imagenetPreprocess}. */
export interface PreprocessOptions {
  /** Shorter side after resizing (default 256); 0 skips resizing. */
  resize?: number;
  /** Side of the center crop (default 224). */
  crop?: number;
  /** Channel means (default ImageNet's). */
  mean?: readonly number[];
  /** Channel standard deviations (default ImageNet's). */
  std?: readonly number[];
}

/**
 * Weights of a 1-D antialiased linear resize from `n` to `m` samples (PIL's and PyTorch's
 * `antialias=True` bilinear): for each output, the first input index and its weights.
 */
export function resizeWeights(n: number, m: number): { start: number[]; weights: Float64Array[] } {
  const scale = n / m;
  const support = Math.max(scale, 1);
  const start: number[] = [];
  const weights: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), n);
    const w = new Float64Array(hi - lo);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const t = Math.abs((j - center + 0.5) / support);
      total += w[j - lo] = t < 1 ? 1 - t : 0;
    }
    if (total > 0) { for (let k = 0; k < w.length; k++) w[k] /= total; }
    start.push(lo);
    weights.push(w);
  }
  return { start, weights };
}

/** Python's round (halves to even), which torchvision's center crop uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Resize, center-crop and normalize an image into a (3, crop, crop) f32 tensor.
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * const px = { data: new Uint8Array(300 * 400 * 3).fill(128), height: 300, width: 400 };
 * const x = nn.models.imagenetPreprocess(px);
 * console.log(x.shape); // [3, 224, 224]
 * ```
 */
export function imagenetPreprocess(img: ImagePixels, options: PreprocessOptions = {}): Tensor {
  const { data, height: h, width: w } = img;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new ShapeError(
      `imagenetPreprocess: height and width must be integers ≥ 1, got ${h}×${w}.`,
    );
  }
  const ch = img.channels ?? (data.length === h * w * 4 ? 4 : 3);
  if ((ch !== 3 && ch !== 4) || data.length !== h * w * ch) {
    throw new ShapeError(
      `imagenetPreprocess: ${data.length} values do not make a ${h}×${w} image with ${ch} ` +
        `channels (expected ${h * w * ch}). Hint: pass channels: 3 for RGB, 4 for RGBA.`,
    );
  }
  const size = options.resize ?? 256, crop = options.crop ?? 224;
  const mean = options.mean ?? IMAGENET_MEAN, std = options.std ?? IMAGENET_STD;
  const [rh, rw] = size === 0
    ? [h, w]
    : h <= w
    ? [size, Math.trunc((size * w) / h)]
    : [Math.trunc((size * h) / w), size];
  if (crop > rh || crop > rw) {
    throw new ShapeError(
      `imagenetPreprocess: crop ${crop} is larger than the resized image ${rh}×${rw}.`,
    );
  }
  const top = roundHalfEven((rh - crop) / 2), left = roundHalfEven((rw - crop) / 2);
  const scale = data instanceof Float32Array ? 1 : 1 / 255;
  const ys = resizeWeights(h, rh), xs = resizeWeights(w, rw);
  const out = new Float32Array(3 * crop * crop);
  const row = new Float64Array(w * 3);
  for (let oy = 0; oy < crop; oy++) {
    // Vertical pass for this output row, then horizontal.
    const y0 = ys.start[top + oy], wy = ys.weights[top + oy];
    row.fill(0);
    for (let k = 0; k < wy.length; k++) {
      const base = (y0 + k) * w * ch;
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) row[x * 3 + c] += wy[k] * data[base + x * ch + c];
      }
    }
    for (let ox = 0; ox < crop; ox++) {
      const x0 = xs.start[left + ox], wx = xs.weights[left + ox];
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < wx.length; k++) v += wx[k] * row[(x0 + k) * 3 + c];
        out[(c * crop + oy) * crop + ox] = (v * scale - mean[c]) / std[c];
      }
    }
  }
  return tensor(out, { shape: [3, crop, crop] });
}
