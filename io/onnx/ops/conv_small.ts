/**
 * Small 1-D convolutions on the CPU in f32 (streaming audio models: a few frames per call): the
 * column matrix is built in JS and multiplied by the weight in one matmul, with the bias added
 * while the output is laid out. Core's conv2d costs tens of µs of fixed overhead per call
 * (lifting to 2-D, a pool job for im2col, a split GEMM), more than the arithmetic at these sizes.
 *
 * @module
 */
import { newF32, readF32 } from "./host.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";

/** Largest column matrix (elements) built here; larger convolutions take core's conv2d. */
const MAX_COLS = 1 << 16;
/**
 * Up to this many multiply-adds the convolution runs as plain JS loops: a matmul call costs
 * ~6 µs of fixed overhead (Silero's 128-tap output conv: 17.8 µs through matmul).
 */
const DIRECT_MACS = 4096;

/** max(v, 0) of each value into a new array (NaN stays, as in core's relu). */
function relu(v: Float32Array): Float32Array {
  const r = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) r[i] = v[i] > 0 || v[i] !== v[i] ? v[i] : 0;
  return r;
}

/** An activation fused into the convolution's output ("" for none). */
export type Activation = "" | "Relu" | "Sigmoid";

/** The convolution by direct loops (f64 sums), bias and ReLU in the same pass. */
function direct(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  [N, Ci, L, Co, K, T, s, d, pb]: number[],
  act: Activation,
  preRelu: boolean,
): Tensor {
  const [out, y] = newF32([N, Co, T]);
  const xs = preRelu ? relu(readF32(x)) : readF32(x);
  const ws = readF32(w), b = bias === undefined ? null : readF32(bias);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Co; co++) {
      for (let t = 0; t < T; t++) {
        let acc = b === null ? 0 : b[co];
        for (let ci = 0; ci < Ci; ci++) {
          const xo = (n * Ci + ci) * L, wo = (co * Ci + ci) * K;
          for (let j = 0; j < K; j++) {
            const p = t * s + j * d - pb;
            if (p >= 0 && p < L) acc += ws[wo + j] * xs[xo + p];
          }
        }
        // max(acc, 0) keeping NaN, as the matmul path does.
        y[(n * Co + co) * T + t] = act === "Relu" && acc <= 0
          ? 0
          : act === "Sigmoid"
          ? 1 / (1 + Math.exp(-Math.fround(acc)))
          : acc;
      }
    }
  }
  return out;
}

/**
 * y [N, Co, T] = conv1d(x [N, Ci, L], w [Co, Ci, K]) + bias, with stride `s`, dilation `d` and
 * pads `pb` (begin) / `pe` (end), group 1, then the fused activation `act` (ReLU: max(y, 0), NaN
 * stays; Sigmoid: 1 / (1 + e^-y) of the f32 sum), reading max(x, 0) when `preRelu`; null when it
 * does not apply (dtype, device, size).
 */
export function conv1dSmall(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  s: number,
  d: number,
  pb: number,
  pe: number,
  act: Activation = "",
  preRelu = false,
): Tensor | null {
  const plain = (t: Tensor | undefined) =>
    t === undefined || (t.dtype === "f32" && t.device === "cpu");
  if (x.ndim !== 3 || w.ndim !== 3 || !plain(x) || !plain(w) || !plain(bias)) return null;
  const [N, Ci, L] = x.shape, [Co, wc, K] = w.shape;
  if (wc !== Ci || pb < 0 || pe < 0) return null;
  const T = Math.floor((L + pb + pe - (K - 1) * d - 1) / s) + 1;
  const rows = Ci * K, cols = N * T;
  if (T <= 0 || rows * cols > MAX_COLS) return null;
  if (Co * rows * cols <= DIRECT_MACS) {
    return direct(x, w, bias, [N, Ci, L, Co, K, T, s, d, pb], act, preRelu);
  }
  const [ct, c] = newF32([rows, cols], true);
  const xs = preRelu ? relu(readF32(x)) : readF32(x);
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Ci; ci++) {
      const xo = (n * Ci + ci) * L;
      for (let j = 0; j < K; j++) {
        const ro = (ci * K + j) * cols + n * T;
        for (let t = 0; t < T; t++) {
          const p = t * s + j * d - pb;
          if (p >= 0 && p < L) c[ro + t] = xs[xo + p];
        }
      }
    }
  }
  const yt = matmul(V.reshape(w, [Co, rows]), ct);
  ct.dispose();
  const [out, y] = newF32([N, Co, T]);
  const y2 = readF32(yt);
  const b = bias === undefined ? null : readF32(bias);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Co; co++) {
      const bo = b === null ? 0 : b[co], yo = (n * Co + co) * T, so = co * cols + n * T;
      for (let t = 0; t < T; t++) y[yo + t] = y2[so + t] + bo;
      if (act === "Sigmoid") {
        for (let t = 0; t < T; t++) y[yo + t] = 1 / (1 + Math.exp(-y[yo + t]));
      }
      if (act === "Relu") {
        for (let t = 0; t < T; t++) {
          if (!(y[yo + t] > 0) && y[yo + t] === y[yo + t]) y[yo + t] = 0;
        }
      }
    }
  }
  yt.dispose();
  return out;
}
