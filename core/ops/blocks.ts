/**
 * Conversions to and from block-quantized storage types, through the kernels the dtype table's
 * rows name (`dequantize`, `quantize`), and copies of raw blocks. `astype` routes here.
 *
 * @module
 */
import { deviceProvider, hasKernel } from "../backend/registry.ts";
import { BLOCK_DTYPES, type BlockDType, isBlockDType, type StorageDType } from "../dtype.ts";
import { DeviceError, DTypeError } from "../errors.ts";
import { noGrad } from "../autograd.ts";
import { runKernel1 } from "../op.ts";
import type { BlockOp } from "./contracts/mod.ts";
import { Tensor } from "../tensor.ts";
import { fromBlocks } from "./creation.ts";

/** `kernel` (named by a block type's table row), or a DeviceError naming it where none has it. */
function blockKernel(kernel: BlockOp, t: Tensor<StorageDType>, to: StorageDType): BlockOp {
  if (hasKernel(kernel, t.device)) return kernel;
  throw new DeviceError(
    `astype: converting ${t.dtype} to ${to} needs the "${kernel}" kernel (named by the dtype ` +
      `table's ${isBlockDType(to) ? to : t.dtype} row), and no backend on device ` +
      `"${t.device}" registers it. Hint: the block-type codecs provide it; until they are ` +
      `loaded, raw blocks can only be moved (to, clone, bytesSync).`,
  );
}

/** `t` dequantized to f32 by the kernel its table row names (`to` is the dtype asked for). */
export function dequantize(t: Tensor<BlockDType>, to: StorageDType): Tensor {
  const kernel = blockKernel(BLOCK_DTYPES[t.dtype].dequantize, t, to);
  return runKernel1(kernel, [t], {}, { shape: t.shape, dtype: "f32", overwritten: true });
}

/** f32 `src` quantized to block type `dtype` by the kernel its table row names. */
export function quantize<B extends BlockDType>(src: Tensor, dtype: B): Tensor<B> {
  const row = BLOCK_DTYPES[dtype];
  if (row.quantize === null) {
    throw new DTypeError(
      `astype: ${dtype} has no reference quantizer (ggml quantizes it only with an importance ` +
        `matrix). Hint: quantize to a type without one (e.g. q4_k, iq4_xs) or load ${dtype} ` +
        `weights from a GGUF file.`,
    );
  }
  const kernel = blockKernel(row.quantize, src, dtype);
  const out = Tensor.empty(src.shape, dtype, src.device, false);
  try {
    // Quantizing is not differentiable: the block output never joins the graph.
    noGrad(() => runKernel1(kernel, [src], {}, out));
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  }
}

/** A contiguous copy of a block tensor's raw blocks in new storage on its device. */
export function copyBlocks<D extends StorageDType>(t: Tensor<D>): Tensor<D> {
  if (!deviceProvider(t.device).readSync) {
    throw new DeviceError(
      `clone: copying a ${t.dtype} tensor on "${t.device}" needs a synchronous read. Hint: ` +
        `use await t.to("cpu") (which copies), or dequantize it (astype("f32")).`,
    );
  }
  return fromBlocks(t.bytesSync(), t.dtype as BlockDType, t.shape, t.device) as Tensor<
    StorageDType
  > as Tensor<D>;
}
