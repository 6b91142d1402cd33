/**
 * Runs ONNX node conformance cases (written by tools/onnx_node_cases.py from the onnx wheel)
 * through loadOnnx and compares with the expected outputs stored next to each model.
 */
import "../../backends/runtime.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProtoSchema } from "../../io/onnx/onnx_pb.ts";
import { tensorFromProto } from "../../io/onnx/tensor_proto.ts";
import { loadOnnxSync, OnnxUnsupportedError } from "../../io/onnx/session.ts";
import type { Tensor } from "../../core/tensor.ts";
import { ComputeError } from "../../core/errors.ts";

/** Default cache folder of the generated cases. */
export const CASES_DIR = new URL("../../.cache/onnx-node/node/", import.meta.url).pathname;

/** onnx's backend test tolerances (onnx/backend/test/runner: rtol 1e-3, atol 1e-7). */
export const RTOL = 1e-3, ATOL = 1e-7;
/**
 * Half-precision outputs: 2 units in the last place relative (f16 2^-9, bf16 2^-6), since a
 * different but valid summation order moves the rounded result by an ulp or two.
 */
export const RTOL_HALF: Record<string, number> = { f16: 2 ** -9, bf16: 2 ** -6 };
/**
 * Absolute tolerance per case-name prefix where the reference's own rounding exceeds ATOL: the
 * DFT cases' expected values come from a float32 FFT, whose exact zeros carry ~2e-7 of noise.
 */
export const ATOL_BY_CASE: Record<string, number> = { test_dft: 1e-6 };

/** Outcome of one case. */
export interface CaseResult {
  name: string;
  /** Operators of the case's main graph (sorted, unique). */
  ops: string[];
  status: "pass" | "fail" | "skip";
  reason: string;
}

function readTensor(path: string): Tensor {
  return tensorFromProto(fromBinary(TensorProtoSchema, Deno.readFileSync(path)), path);
}

function compare(name: string, got: Tensor, want: Tensor, atol = ATOL): string | null {
  if (got.dtype !== want.dtype) return `${name}: dtype ${got.dtype}, expected ${want.dtype}`;
  if (got.shape.join(",") !== want.shape.join(",")) {
    return `${name}: shape [${got.shape}], expected [${want.shape}]`;
  }
  const bf = (t: Tensor) => t.dtype === "bf16" ? t.astype("f32").dataSync() : t.dataSync();
  const a = bf(got), b = bf(want);
  const float = ["f32", "f64", "f16", "bf16"].includes(want.dtype);
  for (let i = 0; i < b.length; i++) {
    const x = Number(a[i]), y = Number(b[i]);
    if (Number.isNaN(y) || Number.isNaN(x)) {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      return `${name}[${i}]: ${x}, expected ${y}`;
    }
    const rtol = RTOL_HALF[want.dtype] ?? RTOL;
    const ok = float ? (x === y || Math.abs(x - y) <= atol + rtol * Math.abs(y)) : x === y;
    if (!ok) return `${name}[${i}]: ${x}, expected ${y}`;
  }
  return null;
}

/** The operators of a case's main graph. */
export function caseOps(dir: string): string[] {
  const m = fromBinary(ModelProtoSchema, Deno.readFileSync(`${dir}/model.onnx`));
  return [...new Set(m.graph?.node.map((n) => (n.domain ? `${n.domain}.` : "") + n.opType))]
    .sort();
}

/** Run one case folder. */
export function runCase(name: string, root = CASES_DIR): CaseResult {
  const dir = `${root}${name}`;
  const ops = caseOps(dir);
  const m = fromBinary(ModelProtoSchema, Deno.readFileSync(`${dir}/model.onnx`));
  for (const v of [...(m.graph?.input ?? []), ...(m.graph?.output ?? [])]) {
    if (v.type?.value.case !== "tensorType") {
      return { name, ops, status: "skip", reason: `non-tensor ${v.type?.value.case} value` };
    }
  }
  let session;
  try {
    session = loadOnnxSync(Deno.readFileSync(`${dir}/model.onnx`), { name, baseDir: dir });
  } catch (e) {
    if (e instanceof OnnxUnsupportedError) {
      return {
        name,
        ops,
        status: "skip",
        reason: `not implemented: ${e.missing.map((x) => x.opType).join(", ")}`,
      };
    }
    const msg = (e as Error).message;
    if (/element type/.test(msg)) return { name, ops, status: "skip", reason: "dtype" };
    return { name, ops, status: "fail", reason: `load: ${msg.slice(0, 160)}` };
  }
  const sets = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("test_data_set_"))
    .map((e) => e.name).sort();
  for (const s of sets) {
    const feeds: Record<string, Tensor> = {};
    const expected: Tensor[] = [];
    try {
      session.inputNames.forEach((n, i) => (feeds[n] = readTensor(`${dir}/${s}/input_${i}.pb`)));
      session.outputNames.forEach((_, i) =>
        expected.push(readTensor(`${dir}/${s}/output_${i}.pb`))
      );
    } catch (e) {
      const msg = (e as Error).message;
      return { name, ops, status: "skip", reason: /element type/.test(msg) ? "dtype" : msg };
    }
    let out: Record<string, Tensor>;
    try {
      out = session.runSync(feeds);
    } catch (e) {
      const typed = e instanceof ComputeError ? "" : "untyped ";
      return {
        name,
        ops,
        status: "fail",
        reason: `${typed}${(e as Error).name}: ${(e as Error).message.slice(0, 160)}`,
      };
    }
    for (const [i, n] of session.outputNames.entries()) {
      const atol = Object.entries(ATOL_BY_CASE).find(([p]) => name.startsWith(p))?.[1];
      const err = compare(n, out[n], expected[i], atol);
      if (err !== null) return { name, ops, status: "fail", reason: err };
    }
    for (const t of [...Object.values(feeds), ...Object.values(out), ...expected]) t.dispose();
  }
  return { name, ops, status: "pass", reason: "" };
}

/** Every case folder name in `root`, sorted. */
export function listCases(root = CASES_DIR): string[] {
  return [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name).sort();
}
