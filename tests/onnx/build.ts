/**
 * Small ONNX models built in TypeScript (protobuf-es `create` + `toBinary` over the generated
 * schema) for the loader tests and the fuzzer.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type AttributeProto,
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  type GraphProto,
  GraphProtoSchema,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "../../io/onnx/onnx_pb.ts";

/** A float tensor value info with a fixed shape (or symbolic dims as strings). */
export function vi(name: string, shape: (number | string)[], elemType = 1): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: "tensorType",
        value: {
          elemType,
          shape: {
            dim: shape.map((d) => ({
              value: typeof d === "number"
                ? { case: "dimValue" as const, value: BigInt(d) }
                : { case: "dimParam" as const, value: d },
            })),
          },
        },
      },
    },
  });
}

/** An f32 initializer with raw_data. */
export function f32(name: string, dims: number[], values: number[]): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: dims.map(BigInt),
    dataType: 1,
    rawData: new Uint8Array(Float32Array.from(values).buffer),
  });
}

/** An i64 initializer in int64_data. */
export function i64(name: string, dims: number[], values: number[]): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: dims.map(BigInt),
    dataType: 7,
    int64Data: values.map(BigInt),
  });
}

type AttrInit = number | number[] | string | GraphProto | TensorProto;

function attr(name: string, v: AttrInit): AttributeProto {
  if (typeof v === "number") {
    return Number.isInteger(v)
      ? create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(v) })
      : create(AttributeProtoSchema, { name, type: AT.FLOAT, f: v });
  }
  if (typeof v === "string") {
    return create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(v) });
  }
  if (Array.isArray(v)) {
    return create(AttributeProtoSchema, { name, type: AT.INTS, ints: v.map(BigInt) });
  }
  if (v.$typeName === "onnx.GraphProto") {
    return create(AttributeProtoSchema, { name, type: AT.GRAPH, g: v });
  }
  return create(AttributeProtoSchema, { name, type: AT.TENSOR, t: v as TensorProto });
}

/** A node. */
export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrInit> = {},
): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    name: `${opType}_${outputs[0] ?? ""}`,
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
  });
}

/** A graph. */
export function graph(
  nodes: NodeProto[],
  inputs: ValueInfoProto[],
  outputs: ValueInfoProto[],
  initializer: TensorProto[] = [],
  name = "g",
): GraphProto {
  return create(GraphProtoSchema, {
    name,
    node: nodes,
    input: inputs,
    output: outputs,
    initializer,
  });
}

/** Model bytes for a graph at an opset of the default domain. */
export function model(g: GraphProto, opset = 18): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 9n,
      opsetImport: [{ domain: "", version: BigInt(opset) }],
      producerName: "aprender-tests",
      graph: g,
    }),
  );
}

/**
 * A valid model touching the loader's paths: initializers, a Constant node, Gemm, Relu, and an
 * If whose branches read outer-scope values. y = relu(x W^T + b) (+ 1 when sum > 0, else - 1).
 */
export function validModel(): Uint8Array {
  const thenG = graph([node("Add", ["h", "one"], ["t"])], [], [vi("t", [1, 2])], [], "then");
  const elseG = graph([node("Sub", ["h", "one"], ["e"])], [], [vi("e", [1, 2])], [], "else");
  return model(graph(
    [
      node("Constant", [], ["one"], { value: f32("", [], [1]) }),
      node("Gemm", ["x", "W", "b"], ["z"], { transB: 1 }),
      node("Relu", ["z"], ["h"]),
      node("ReduceSum", ["h"], ["s"], { keepdims: 0 }),
      node("Greater", ["s", "zero"], ["c"]),
      node("If", ["c"], ["y"], { then_branch: thenG, else_branch: elseG }),
    ],
    [vi("x", [1, 3])],
    [vi("y", [1, 2])],
    [f32("W", [2, 3], [1, -1, 0.5, -2, 1, 0]), f32("b", [2], [0.1, -0.2]), f32("zero", [], [0])],
  ));
}
