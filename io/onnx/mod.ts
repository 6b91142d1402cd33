/**
 * ONNX: load a `.onnx` model and run its graph on our ops.
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
export type { OnnxGraph, OnnxModel, OnnxNode, OnnxValueInfo } from "./graph.ts";
