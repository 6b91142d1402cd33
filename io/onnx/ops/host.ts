/**
 * Zero-copy access to CPU f32 tensors for the JS fast paths of the ONNX operators: `dataSync()`
 * copies into a new ArrayBuffer and `fromTyped()` copies again into the tensor's storage; at the
 * sizes of a streaming model (a few hundred values per node) those allocations, not the
 * arithmetic, are the cost (GC and calloc in the V8 profile).
 *
 * A view is valid until the next allocation of a CPU tensor (the WASM heap may grow and swap its
 * buffer): take views after allocating, use them, then let them go.
 *
 * @module
 */
import { HostStorage } from "../../../core/backend/host.ts";
import { DeviceError } from "../../../core/errors.ts";
import { Tensor } from "../../../core/tensor.ts";

/**
 * The elements of a contiguous CPU f32 tensor: a view of its storage when it lives in host
 * memory, else a copy.
 */
export function readF32(t: Tensor): Float32Array {
  const s = t.isContiguous ? t.storage : null;
  if (s instanceof HostStorage) {
    return new Float32Array(s.buffer, s.byteOffset + t.offset * 4, t.size);
  }
  return t.dataSync() as Float32Array;
}

/** A new CPU f32 tensor (not zeroed) and a view of its elements, to be filled by the caller. */
export function newF32(shape: readonly number[], zero = false): [Tensor, Float32Array] {
  const t = Tensor.empty(shape, "f32", "cpu", zero, "onnx");
  const s = t.storage;
  if (!(s instanceof HostStorage)) {
    t.dispose();
    throw new DeviceError(
      "onnx: a CPU tensor's storage is not host memory. Hint: a plugin replaced the CPU provider.",
    );
  }
  return [t, new Float32Array(s.buffer, s.byteOffset, t.size)];
}
