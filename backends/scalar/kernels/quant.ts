/**
 * The block-quantized conversions the dtype table's rows name: `dequantize` (a block tensor → f32)
 * and `quantize` (f32 → a block tensor), row by row through the reference codecs of core/quant
 * (llama.cpp's algorithms, bit-exact with ggml). A block tensor's views hold whole rows, so each
 * row is a contiguous run of blocks at its own offset.
 *
 * @module
 */
import type { KernelCall, KernelFn, TensorView } from "../../../core/backend/plugin.ts";
import type { HostStorage } from "../../../core/backend/host.ts";
import { type BlockDType, byteLength, byteOffset, type StorageDType } from "../../../core/dtype.ts";
import { dequantizeRow, quantizeRow } from "../../../core/quant/mod.ts";
import { offsets, readF64 } from "../util.ts";

/** Element offsets of the first element of each row of `t` (all axes but the last). */
function rowStarts(t: TensorView<StorageDType>): number[] {
  const rows = t.ndim === 0 ? 1 : t.size / t.shape[t.ndim - 1];
  const starts: number[] = [];
  for (let r = 0; r < rows; r++) {
    let rem = r, off = t.offset;
    for (let a = t.ndim - 2; a >= 0; a--) {
      const q = rem % t.shape[a];
      rem = (rem - q) / t.shape[a];
      off += q * t.strides[a];
    }
    starts.push(off);
  }
  return starts;
}

/** `dequantize`: every row of the block input decoded into the (contiguous) f32 output. */
function dequantize(call: KernelCall): void {
  const src = call.inputs[0] as TensorView<StorageDType>, [out] = call.outputs;
  const type = src.dtype as BlockDType;
  const n = src.ndim === 0 ? src.size : src.shape[src.ndim - 1];
  const bytes = (src.storage as HostStorage).bytes();
  const dst = new Float32Array(
    (out.storage as HostStorage).buffer,
    (out.storage as HostStorage).byteOffset + byteOffset("f32", out.offset),
    out.size,
  );
  const rowBytes = byteLength(type, n, "dequantize");
  rowStarts(src).forEach((start, r) => {
    const at = byteOffset(type, start, "dequantize");
    dequantizeRow(type, bytes.subarray(at, at + rowBytes), dst.subarray(r * n, (r + 1) * n));
  });
}

/** `quantize`: every row of the f32 input encoded into the (contiguous) block output. */
function quantize(call: KernelCall): void {
  const [src] = call.inputs, out = call.outputs[0] as TensorView<StorageDType>;
  const type = out.dtype as BlockDType;
  const n = out.ndim === 0 ? out.size : out.shape[out.ndim - 1];
  const x = offsets(src) === null && src.dtype === "f32" ? null : Float32Array.from(readF64(src));
  const host = src.storage as HostStorage;
  const whole = x ??
    new Float32Array(host.buffer, host.byteOffset + byteOffset("f32", src.offset), src.size);
  const bytes = (out.storage as HostStorage).bytes();
  const rowBytes = byteLength(type, n, "quantize");
  const base = byteOffset(type, out.offset, "quantize");
  for (let r = 0; r < out.size / n; r++) {
    const at = base + r * rowBytes;
    quantizeRow(type, whole.subarray(r * n, (r + 1) * n), bytes.subarray(at, at + rowBytes));
  }
}

/** The conversion kernels, by the names the dtype table's block rows give. */
export const kernels: Record<string, KernelFn> = { dequantize, quantize };
