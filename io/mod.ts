/**
 * File formats: NumPy's `.npy` and `.npz`, safetensors, GGUF, ONNX, checkpoints; and the model
 * hub client (`pull`, `resolveModel`: models by name, cached).
 *
 * @module
 */
import "../backends/runtime.ts";
export type { BudgetOptions } from "./budget.ts";
export { decodeNpy, encodeNpy, loadNpy, type NpyReadOptions, saveNpy } from "./npy.ts";
export { decodeNpz, encodeNpz, loadNpz, type NpzWriteOptions, saveNpz } from "./npz.ts";
export * from "./idx.ts";
export * from "./safetensors.ts";
export * from "./checkpoint.ts";
export * from "./gguf/mod.ts";
export * from "../core/quant/mod.ts";
export * from "./safetensors_lazy.ts";
export * from "./onnx/mod.ts";
export * from "./hub/mod.ts";
