/**
 * Re-quantize a GGUF model file, the way `llama-quantize --pure` does: every 2-D+ weight becomes
 * the target type (through f32, with llama.cpp's reference quantizers), while 1-D tensors (norms,
 * biases) stay as they are; rows that are not a whole number of the type's blocks fall back the
 * way llama.cpp falls back (K/IQ types → a 32-block type, else f16). Tensors stream one at a time.
 *
 * @module
 */
import { hasKernel } from "../../core/backend/registry.ts";
import type { BlockDType, DType } from "../../core/dtype.ts";
import { DTypeError } from "../../core/errors.ts";
import { quantize } from "../../core/ops/blocks.ts";
import { fromBlocks, fromTyped } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { bf16ToF32Row, BLOCK_CODECS, f16ToF32Row } from "../../core/quant/mod.ts";
import { type GgufFile, openGguf } from "./read.ts";
import { type GgufTensorInfo, type GgufTensorType, isBlockType, typeLayout } from "./types.ts";
import { type GgufTensorInput, type GgufValueInput, saveGguf } from "./write.ts";

/** llama.cpp's `llama_ftype` of a model quantized purely to each type (`general.file_type`). */
const FILE_TYPE: Partial<Record<GgufTensorType, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q8_0: 7,
  q5_0: 8,
  q5_1: 9,
  q2_k: 10,
  q3_k: 11,
  q4_k: 14,
  q5_k: 16,
  q6_k: 18,
  iq4_nl: 25,
  iq4_xs: 30,
  bf16: 32,
  tq1_0: 36,
  tq2_0: 37,
  mxfp4: 38,
};

/** llama.cpp's fallback when a row does not split into 256-element super-blocks. */
const FALLBACK: Partial<Record<BlockDType, BlockDType>> = {
  q2_k: "q4_0",
  q3_k: "iq4_nl",
  q4_k: "q5_0",
  q5_k: "q5_1",
  q6_k: "q8_0",
  iq4_xs: "iq4_nl",
  tq1_0: "q4_0",
  tq2_0: "q4_0",
};

/** Options of {@link quantizeGguf}. */
export interface QuantizeOptions {
  /** Target type of the weights. */
  type: GgufTensorType;
  /** Progress: (tensors done, total, name of the tensor just written). */
  onProgress?: (done: number, total: number, name: string) => void;
}

/**
 * The type a tensor of `shape` gets when quantizing to `target` (see the module doc).
 *
 * @example
 * ```ts
 * import { chooseType } from "@aprender/compute/io";
 * console.log(chooseType("blk.0.ffn_down.weight", [64, 172], "f32", "q4_k")); // "f16"
 * ```
 */
export function chooseType(
  name: string,
  shape: readonly number[],
  current: GgufTensorType,
  target: GgufTensorType,
): GgufTensorType {
  if (shape.length < 2 || !name.endsWith("weight")) return current;
  const row = shape[shape.length - 1];
  let t = target;
  if (row % typeLayout(t).blockSize !== 0 && isBlockType(t)) t = FALLBACK[t] ?? t;
  if (row % typeLayout(t).blockSize !== 0) t = "f16";
  return t;
}

/**
 * A tensor's values as f32 (any element or block type).
 *
 * @example
 * ```ts
 * import { openGguf, readAsF32, saveGguf } from "@aprender/compute/io";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await saveGguf(path, { tensors: [{ name: "w", shape: [32], type: "f16", data: new Float32Array(32).fill(2) }] });
 * using f = await openGguf(path);
 * console.log(readAsF32(f, "w")[0]); // 2
 * ```
 */
export function readAsF32(f: GgufFile, name: string): Float32Array {
  const t = f.tensorInfo(name);
  const bytes = f.readTensorBytes(t);
  const out = new Float32Array(t.nelements);
  if (isBlockType(t.type)) BLOCK_CODECS[t.type].dequantize(bytes, out);
  else if (t.type === "f32") out.set(new Float32Array(bytes.buffer, 0, t.nelements));
  else if (t.type === "f16") f16ToF32Row(bytes, out);
  else if (t.type === "bf16") bf16ToF32Row(bytes, out);
  else if (t.type === "f64") out.set(new Float64Array(bytes.buffer, 0, t.nelements));
  else throw new DTypeError(`quantizeGguf: tensor "${name}" is ${t.type}, not a float type`);
  return out;
}

/** Elements converted per step of {@link convertTensor}: bounded heap use whatever the tensor. */
const CHUNK = 1 << 22;

/** `bytes` (whole rows of `type`, `shape`) as an f32 tensor, through the conversion kernels. */
function toF32(bytes: Uint8Array, type: GgufTensorType, shape: number[]): Tensor {
  if (type === "f32") return fromTyped(bytes, shape, "f32");
  using raw = isBlockType(type)
    ? fromBlocks(bytes, type, shape)
    : fromTyped(bytes, shape, type as DType);
  return raw.astype("f32");
}

/**
 * Tensor `t` of `f` converted to `type` (a block type, f32, f16 or bf16), a chunk of rows at a
 * time, through the tensor kernels: the WASM plugin's C quantizers and conversions on every
 * thread of the pool where it is present, else the scalar codecs (the same bytes).
 */
function convertTensor(f: GgufFile, t: GgufTensorInfo, type: GgufTensorType): Uint8Array {
  const rowLen = t.shape[t.shape.length - 1];
  const rows = t.nelements / rowLen;
  const from = typeLayout(t.type), to = typeLayout(type);
  const inRow = (rowLen / from.blockSize) * from.blockBytes;
  const outRow = (rowLen / to.blockSize) * to.blockBytes;
  const out = new Uint8Array(rows * outRow);
  const step = Math.max(1, Math.floor(CHUNK / rowLen));
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    using x = toF32(f.src.read(t.fileOffset + r * inRow, n * inRow), t.type, [n, rowLen]);
    using q = isBlockType(type) ? quantize(x, type) : x.astype(type as DType);
    out.set(q.bytesSync(), r * outRow);
  }
  return out;
}

/**
 * Quantize the GGUF model at `input` to `options.type`, writing `output`.
 *
 * @example
 * ```ts
 * import { openGguf, quantizeGguf, saveGguf } from "@aprender/compute/io";
 * const src = await Deno.makeTempFile({ suffix: ".gguf" });
 * const dst = await Deno.makeTempFile({ suffix: ".gguf" });
 * await saveGguf(src, {
 *   tensors: [
 *     { name: "w.weight", shape: [4, 256], data: new Float32Array(1024).fill(0.5) },
 *     { name: "norm.weight", shape: [256], data: new Float32Array(256).fill(1) },
 *   ],
 * });
 * await quantizeGguf(src, dst, { type: "q4_k" });
 * using f = await openGguf(dst);
 * console.log(f.tensors.map((t) => t.type)); // ["q4_k", "f32"]
 * ```
 */
export async function quantizeGguf(
  input: string | URL,
  output: string | URL,
  options: QuantizeOptions,
): Promise<void> {
  const target = options.type;
  if (isBlockType(target) && BLOCK_CODECS[target].quantize === null) {
    throw new DTypeError(
      `quantizeGguf: no reference quantizer for ${target} (llama.cpp's needs an importance ` +
        `matrix); hint: use iq4_xs or a k-quant`,
    );
  }
  if (!isBlockType(target) && !["f32", "f16", "bf16"].includes(target)) {
    throw new DTypeError(`quantizeGguf: cannot quantize weights to ${target}`);
  }
  using f = await openGguf(input);
  const metadata = new Map<string, GgufValueInput>(f.metadata);
  if (FILE_TYPE[target] !== undefined) {
    metadata.set("general.file_type", { type: "u32", value: FILE_TYPE[target]! });
  }
  metadata.set("general.quantization_version", { type: "u32", value: 2 });
  const tensors: GgufTensorInput[] = f.tensors.map((t) => {
    const type = chooseType(t.name, t.shape, t.type, target);
    return {
      name: t.name,
      shape: t.shape,
      type,
      data: type === t.type
        ? () => f.readTensorBytes(t)
        // the kernels when a backend registers them, else (this module imported alone) the codecs
        : () => hasKernel("quantize", "cpu") ? convertTensor(f, t, type) : readAsF32(f, t.name),
    };
  });
  await saveGguf(output, {
    metadata,
    tensors,
    alignment: f.alignment,
    onProgress: (d, n) => options.onProgress?.(d, n, tensors[d - 1].name),
  });
}
