/**
 * Hostile ONNX models for the fuzzer and the regression test: a valid seed (initializers, a
 * Constant node, an If reading outer scope), corruption classes one at a time (cycles, deep
 * subgraphs, dangling names, huge dims, payload lengths that disagree, external data pointing
 * outside its file or folder, truncation), and protobuf-aware byte mutators.
 */
import { ComputeError } from "../../core/errors.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { create } from "@bufbuild/protobuf";
import { TensorProtoSchema } from "../../io/onnx/onnx_pb.ts";
import { f32, graph, i64, model, node, validModel, vi } from "../onnx/build.ts";

/** Outcome of one load: ok, a typed error, or a defect (anything else). */
export type OnnxOutcome = "ok" | "format-error" | { defect: unknown };

/** Folder holding the small external data file the seeds point at. */
export const FUZZ_DIR: string = Deno.makeTempDirSync({ prefix: "onnx-fuzz-" });
Deno.writeFileSync(`${FUZZ_DIR}/w.bin`, new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(FUZZ_DIR, { recursive: true });
  } catch { /* already gone */ }
});

function external(location: string, offset: string, length: string) {
  const t = f32("w", [4], [0, 0, 0, 0]);
  t.rawData = new Uint8Array(0);
  t.dataLocation = 1;
  t.externalData = create(TensorProtoSchema, {
    externalData: [
      { key: "location", value: location },
      { key: "offset", value: offset },
      { key: "length", value: length },
    ],
  }).externalData;
  return model(graph([node("Abs", ["w"], ["y"])], [], [vi("y", [4])], [t]));
}

/** Broken models with the message each must give. */
export function hostileOnnx(): { what: string; bytes: Uint8Array; msg: RegExp }[] {
  const leaf = graph([node("Identity", ["x"], ["y"])], [], [vi("y", [1])]);
  let deep = leaf;
  for (let i = 0; i < 200; i++) {
    deep = graph([node("If", ["c"], ["y"], { then_branch: deep, else_branch: leaf })], [], [
      vi("y", [1]),
    ]);
  }
  const huge = f32("w", [1], [1]);
  huge.dims = [1n << 62n];
  const short = f32("w", [4], [1, 2, 3, 4]);
  short.rawData = short.rawData.slice(0, 3);
  const valid = validModel();
  return [
    {
      what: "cycle",
      bytes: model(
        graph([node("Relu", ["b"], ["a"]), node("Relu", ["a"], ["b"])], [], [vi("b", [1])]),
      ),
      msg: /cycle/,
    },
    {
      what: "subgraphs 200 deep",
      bytes: model(graph(deep.node, [vi("x", [1]), vi("c", [], 9)], [vi("y", [1])])),
      msg: /recursion depth|nest deeper/,
    },
    {
      what: "dangling name",
      bytes: model(graph([node("Relu", ["ghost"], ["y"])], [], [vi("y", [1])])),
      msg: /never produced: "ghost"/,
    },
    {
      what: "dims 2^62",
      bytes: model(graph([node("Abs", ["w"], ["y"])], [], [vi("y", [1])], [huge])),
      msg: /out of range/,
    },
    {
      what: "raw_data too short",
      bytes: model(graph([node("Abs", ["w"], ["y"])], [], [vi("y", [4])], [short])),
      msg: /raw_data holds 3 bytes/,
    },
    {
      what: "int64_data count off",
      bytes: model(graph([node("Abs", ["w"], ["y"])], [], [vi("y", [3])], [i64("w", [3], [1])])),
      msg: /int64_data holds 1 values/,
    },
    {
      what: "external data past its file",
      bytes: external("w.bin", "8", "16"),
      msg: /lies outside/,
    },
    {
      what: "external data offset 2^60",
      bytes: external("w.bin", "1152921504606846976", "16"),
      msg: /not a byte count/,
    },
    {
      what: "external data offset 2^40",
      bytes: external("w.bin", "1099511627776", "16"),
      msg: /lies outside/,
    },
    {
      what: "external data outside the folder",
      bytes: external("../w.bin", "0", "16"),
      msg: /leaves the model's folder/,
    },
    {
      what: "external data absolute path",
      bytes: external("/etc/passwd", "0", "16"),
      msg: /leaves the model's folder/,
    },
    {
      what: "truncated model",
      bytes: valid.slice(0, valid.length - 7),
      msg: /not a valid ONNX model|never produced|no graph/,
    },
  ];
}

/** The valid seed plus the hostile corpus. */
export function onnxSeeds(): Uint8Array[] {
  return [validModel(), external("w.bin", "0", "16"), ...hostileOnnx().map((c) => c.bytes)];
}

/** Load `bytes` as a model (weights decoded, operators checked); never runs it. */
export function runOnnxCase(bytes: Uint8Array): OnnxOutcome {
  try {
    loadOnnxSync(bytes, { name: "<fuzz>", baseDir: FUZZ_DIR });
    return "ok";
  } catch (e) {
    return e instanceof ComputeError ? "format-error" : { defect: e };
  }
}

/** Byte-level mutations aimed at protobuf: flips, truncation, varint blow-ups, splices. */
export function mutateOnnx(b: Uint8Array, r: () => number): Uint8Array {
  const out = b.slice();
  const at = Math.floor(r() * out.length);
  switch (Math.floor(r() * 5)) {
    case 0:
      out[at] ^= 1 << Math.floor(r() * 8);
      return out;
    case 1:
      return out.slice(0, at);
    case 2: // a length or varint byte set to continue forever
      for (let i = at; i < Math.min(out.length, at + 1 + Math.floor(r() * 9)); i++) out[i] = 0xff;
      return out;
    case 3: { // duplicate a span (repeated fields, nested messages)
      const len = Math.floor(r() * 64);
      const span = out.slice(at, at + len);
      const res = new Uint8Array(out.length + span.length);
      res.set(out.slice(0, at));
      res.set(span, at);
      res.set(out.slice(at), at + span.length);
      return res;
    }
    default:
      out[at] = Math.floor(r() * 256);
      return out;
  }
}
