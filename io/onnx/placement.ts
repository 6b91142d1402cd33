/**
 * Where a session's tensors live when it runs on a device other than the CPU (`loadOnnx(...,
 * { device: "gpu" })`): float tensors (initializers, feeds, results) on the device; integer and
 * bool tensors that ops read as shapes, axes, pads or counts stay on the CPU, where they are read
 * synchronously (they are tiny). A node whose inputs mix devices gets its CPU data inputs copied
 * to the device first (a synchronous upload); its shape inputs stay where they are.
 *
 * @module
 */
import { DeviceError } from "../../core/errors.ts";
import { deviceProvider } from "../../core/backend/registry.ts";
import { byteLength, byteOffset, type StorageDType } from "../../core/dtype.ts";
import { contiguous } from "../../core/ops/view.ts";
import { Tensor } from "../../core/tensor.ts";

/** Inputs (by position) that operators read as host values: shapes, axes, pads, counts. */
const SHAPE_INPUTS: Record<string, readonly number[]> = {
  Reshape: [1],
  Expand: [1],
  Slice: [1, 2, 3, 4],
  Tile: [1],
  Pad: [1, 2, 3],
  ConstantOfShape: [0],
  Range: [0, 1, 2],
  TopK: [1],
  Unsqueeze: [1],
  Squeeze: [1],
  Split: [1],
  Resize: [1, 2, 3],
  Upsample: [1],
  OneHot: [1, 2],
  CumSum: [1],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceL1: [1],
  ReduceL2: [1],
  ReduceLogSum: [1],
  ReduceLogSumExp: [1],
  ReduceSumSquare: [1],
  If: [0],
  // Indices on the CPU are gathered as views of the data (ops/shape.ts).
  Gather: [1],
  Loop: [0, 1],
};

const FLOAT = new Set(["f32", "f16", "f64", "bf16"]);

/** Whether a session on a device keeps this tensor on the CPU (integer and bool values). */
export function staysOnHost(t: Tensor): boolean {
  return !FLOAT.has(t.dtype);
}

/** A copy of CPU tensor `t` on `device`, written synchronously. */
export function uploadSync(t: Tensor, device: string): Tensor {
  const src = contiguous(t);
  try {
    const host = deviceProvider(t.device);
    if (!host.readSync) {
      throw new DeviceError(
        `onnx run: a tensor on "${t.device}" cannot be read synchronously to move it to ` +
          `"${device}".`,
      );
    }
    const d = t.dtype as StorageDType;
    const bytes = host.readSync(src.storage, byteOffset(d, src.offset), byteLength(d, src.size));
    const out = Tensor.empty(t.shape, d, device);
    deviceProvider(device).write(out.storage, bytes, 0);
    return out as Tensor;
  } finally {
    src.dispose();
  }
}

/**
 * The inputs of a node of op `opType` placed for a run on `device`: when any input lives on the
 * device, CPU inputs other than its shape inputs are uploaded (`made` collects the copies, for the
 * caller to free after the node).
 */
export function placeInputs(
  opType: string,
  inputs: (Tensor | undefined)[],
  device: string,
  made: Tensor[],
): (Tensor | undefined)[] {
  if (!inputs.some((t) => t !== undefined && t.device === device)) return inputs;
  const host = SHAPE_INPUTS[opType] ?? [];
  return inputs.map((t, i) => {
    if (t === undefined || t.device === device || host.includes(i)) return t;
    const up = uploadSync(t, device);
    made.push(up);
    return up;
  });
}
