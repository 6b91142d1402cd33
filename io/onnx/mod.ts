/**
 * ONNX: load a `.onnx` model and run its graph on our ops; export nn models.
 *
 * @module
 */
export {
  checkOperators,
  loadOnnx,
  type LoadOnnxOptions,
  loadOnnxSync,
  type MissingOp,
  OnnxSession,
  OnnxUnsupportedError,
} from "./session.ts";
export { type NodeTime, profileTable } from "./profile.ts";
export { exportOnnx, type ExportOnnxOptions, exportOnnxSync } from "./export.ts";
export type {
  AttrValue,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxValueInfo,
  ParseOptions,
} from "./graph.ts";
