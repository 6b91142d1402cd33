/**
 * ONNX `TensorProto` ⇄ our tensors: the element type table, the typed fields and `raw_data`
 * (little-endian), and external data (`location`/`offset`/`length`, checked against the file).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type DType, elementBytes } from "../../core/dtype.ts";
import { DTypeError, fmtShape, FormatError } from "../../core/errors.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { type TensorProto, TensorProto_DataLocation, TensorProtoSchema } from "./onnx_pb.ts";

/** ONNX `TensorProto.DataType` codes of the element types we hold, and ours for each. */
const ONNX_TO_DTYPE: ReadonlyMap<number, DType> = new Map([
  [1, "f32"],
  [2, "u8"],
  [3, "i8"],
  [4, "u16"],
  [5, "i16"],
  [6, "i32"],
  [7, "i64"],
  [9, "bool"],
  [10, "f16"],
  [11, "f64"],
  [12, "u32"],
  [16, "bf16"],
]);
const DTYPE_TO_ONNX: ReadonlyMap<DType, number> = new Map(
  [...ONNX_TO_DTYPE].map(([k, v]) => [v, k]),
);
const ONNX_TYPE_NAMES = [
  "UNDEFINED",
  "FLOAT",
  "UINT8",
  "INT8",
  "UINT16",
  "INT16",
  "INT32",
  "INT64",
  "STRING",
  "BOOL",
  "FLOAT16",
  "DOUBLE",
  "UINT32",
  "UINT64",
  "COMPLEX64",
  "COMPLEX128",
  "BFLOAT16",
];

/** Most elements one tensor may declare (2^31 - 1: no typed array of ours holds more). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** The name ONNX gives element type `code` (e.g. 1 → "FLOAT"). */
export function onnxTypeName(code: number): string {
  return ONNX_TYPE_NAMES[code] ?? `type ${code}`;
}

/** Our dtype for ONNX element type `code`, or a DTypeError naming `where`. */
export function dtypeFromOnnx(code: number, where: string): DType {
  const d = ONNX_TO_DTYPE.get(code);
  if (d === undefined) {
    throw new DTypeError(
      `${where}: ONNX element type ${onnxTypeName(code)} (${code}) is not supported here. ` +
        `Hint: supported are ${[...ONNX_TO_DTYPE.keys()].map(onnxTypeName).join(", ")}.`,
    );
  }
  return d;
}

/** ONNX element type code of our dtype `d`. */
export function onnxFromDtype(d: DType, where: string): number {
  const c = DTYPE_TO_ONNX.get(d);
  if (c === undefined) throw new DTypeError(`${where}: dtype ${d} has no ONNX element type.`);
  return c;
}

/** Check dims (each a non-negative safe integer) and return them with their element count. */
export function checkDims(dims: readonly bigint[], where: string): [number[], number] {
  const shape: number[] = [];
  let n = 1;
  for (const d of dims) {
    if (d < 0n || d > BigInt(MAX_TENSOR_ELEMENTS)) {
      throw new FormatError(
        `${where}: dimension ${d} of dims [${dims.join(", ")}] is out of range ` +
          `[0, ${MAX_TENSOR_ELEMENTS}]. Hint: the file is damaged or not an ONNX model.`,
      );
    }
    shape.push(Number(d));
    n *= Number(d);
  }
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new FormatError(
      `${where}: dims ${fmtShape(shape)} hold ${n} elements, more than ${MAX_TENSOR_ELEMENTS}.`,
    );
  }
  return [shape, n];
}

/** Where external data lives: the model's folder, and a reader of byte ranges of a file there. */
export interface ExternalDataSource {
  /** Folder of the model file; `location` is resolved relative to it. */
  baseDir: string;
}

function externalBytes(
  p: TensorProto,
  where: string,
  want: number,
  src: ExternalDataSource | undefined,
): Uint8Array {
  const kv = new Map(p.externalData.map((e) => [e.key, e.value]));
  const loc = kv.get("location");
  if (loc === undefined || loc === "") {
    throw new FormatError(`${where}: external data without a "location" entry.`);
  }
  if (src === undefined) {
    throw new FormatError(
      `${where}: data lives in the external file "${loc}", but the model was loaded from bytes. ` +
        `Hint: pass { baseDir } to loadOnnx, or load the model from its path.`,
    );
  }
  const parts = loc.split(/[\\/]/);
  if (loc.startsWith("/") || /^[a-zA-Z]:/.test(loc) || parts.includes("..")) {
    throw new FormatError(
      `${where}: external data location "${loc}" leaves the model's folder. Hint: ONNX ` +
        `requires a relative path inside the folder of the model.`,
    );
  }
  const num = (key: string, dflt: number | undefined): number => {
    const s = kv.get(key);
    if (s === undefined) {
      if (dflt === undefined) throw new FormatError(`${where}: external data has no "${key}".`);
      return dflt;
    }
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
      throw new FormatError(`${where}: external data "${key}" is "${s}", not a byte count.`);
    }
    return Number(s);
  };
  const offset = num("offset", 0);
  const path = `${src.baseDir}/${loc}`;
  let size: number;
  try {
    const st = Deno.statSync(path);
    if (!st.isFile) throw new Error("not a regular file");
    size = st.size;
  } catch (e) {
    throw new FormatError(`${where}: cannot open external data file "${path}": ${e}.`);
  }
  const length = num("length", size - offset);
  if (length !== want) {
    throw new FormatError(
      `${where}: external data length ${length} does not match the ${want} bytes its dims and ` +
        `type need.`,
    );
  }
  if (offset + length > size) {
    throw new FormatError(
      `${where}: external data [${offset}, ${offset + length}) lies outside "${loc}" ` +
        `(${size} bytes).`,
    );
  }
  const out = new Uint8Array(length);
  const f = Deno.openSync(path);
  try {
    f.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const r = f.readSync(out.subarray(got));
      if (r === null || r === 0) throw new FormatError(`${where}: "${loc}" ended early.`);
      got += r;
    }
  } finally {
    f.close();
  }
  return out;
}

/** Little-endian bytes of `n` elements of `d` taken from the typed fields of `p`. */
function fieldBytes(p: TensorProto, d: DType, n: number, where: string): Uint8Array {
  const size = elementBytes(d);
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  const field = (name: string, len: number) => {
    if (len !== n) {
      throw new FormatError(
        `${where}: ${name} holds ${len} values, but dims ${
          fmtShape(p.dims.map(Number))
        } need ${n}.`,
      );
    }
  };
  switch (d) {
    case "f32":
      field("float_data", p.floatData.length);
      p.floatData.forEach((v, i) => dv.setFloat32(4 * i, v, true));
      break;
    case "f64":
      field("double_data", p.doubleData.length);
      p.doubleData.forEach((v, i) => dv.setFloat64(8 * i, v, true));
      break;
    case "i64":
      field("int64_data", p.int64Data.length);
      p.int64Data.forEach((v, i) => dv.setBigInt64(8 * i, BigInt(v), true));
      break;
    case "u32":
      field("uint64_data", p.uint64Data.length);
      p.uint64Data.forEach((v, i) => dv.setUint32(4 * i, Number(BigInt(v) & 0xffffffffn), true));
      break;
    default:
      // int32_data carries i32, i16, i8, u16, u8, bool, and f16/bf16 as their bit patterns.
      field("int32_data", p.int32Data.length);
      p.int32Data.forEach((v, i) => {
        if (size === 4) dv.setInt32(4 * i, v, true);
        else if (size === 2) dv.setUint16(2 * i, v & 0xffff, true);
        else dv.setUint8(i, v & 0xff);
      });
  }
  return out;
}

/**
 * Decode a `TensorProto` into a tensor on `device` (CPU by default). `where` names the tensor in
 * errors. Counts and lengths are checked before anything is allocated.
 */
export function tensorFromProto(
  p: TensorProto,
  where: string,
  external?: ExternalDataSource,
  device = "cpu",
): Tensor {
  const name = p.name ? `${where} "${p.name}"` : where;
  if (p.segment !== undefined) {
    throw new FormatError(`${name}: segmented tensors are not supported.`);
  }
  const d = dtypeFromOnnx(p.dataType, name);
  const [shape, n] = checkDims(p.dims, name);
  const want = n * elementBytes(d);
  let bytes: Uint8Array;
  if (p.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    bytes = externalBytes(p, name, want, external);
  } else if (p.rawData.length > 0 || (n === 0 && fieldCount(p) === 0)) {
    if (p.rawData.length !== want) {
      throw new FormatError(
        `${name}: raw_data holds ${p.rawData.length} bytes, but dims ${fmtShape(shape)} of ` +
          `${d} need ${want}.`,
      );
    }
    bytes = p.rawData.slice(); // aligned copy; protobuf-es hands out a view of the file
  } else {
    bytes = fieldBytes(p, d, n, name);
  }
  if (d === "bool") {
    for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i] ? 1 : 0;
  }
  return fromTyped(bytes, shape, d, device);
}

function fieldCount(p: TensorProto): number {
  return p.floatData.length + p.int32Data.length + p.int64Data.length + p.doubleData.length +
    p.uint64Data.length + p.stringData.length;
}

/** Encode a (host-readable) tensor as a `TensorProto` with `raw_data`. */
export function tensorToProto(t: Tensor, name: string): TensorProto {
  const d = t.dtype as DType;
  return create(TensorProtoSchema, {
    name,
    dims: t.shape.map(BigInt),
    dataType: onnxFromDtype(d, `tensor "${name}"`),
    rawData: t.bytesSync(),
  });
}
