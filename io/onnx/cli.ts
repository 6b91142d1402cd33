/**
 * `deno task onnx inspect model.onnx` and `deno task onnx run model.onnx --input x=x.npy …`.
 * MODEL is a path or a hub name (`hf://owner/repo/file.onnx` or an https URL), pulled into the
 * cache first (see `deno task pull`).
 *
 * @module
 */
import "../../backends/runtime.ts";
import { ComputeError } from "../../core/errors.ts";
import { loadNpy, saveNpy } from "../npy.ts";
import { opHistogram, parseModel } from "./graph.ts";
import { OPS } from "./ops/registry.ts";
import { loadOnnx } from "./session.ts";
import { progressBar, resolveModel } from "../hub/mod.ts";
import type { Tensor } from "../../core/tensor.ts";

const USAGE = `usage:
  deno task onnx inspect MODEL.onnx
  deno task onnx run MODEL.onnx --input NAME=FILE.npy ... [--out DIR]
MODEL: a path, or a hub name (hf://owner/repo/file.onnx, https://…)`;

function dirOf(p: string): string {
  return p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : ".";
}

function fmtInfo(v: { name: string; dtype: string | null; shape: unknown[] | null }): string {
  const shape = v.shape === null ? "?" : `[${v.shape.map((d) => d ?? "?").join(", ")}]`;
  return `${v.name}: ${v.dtype ?? "?"} ${shape}`;
}

function inspect(path: string): void {
  const m = parseModel(Deno.readFileSync(path), { name: path, baseDir: dirOf(path) });
  console.log(`${path}: IR ${m.irVersion}, producer "${m.producer}"`);
  console.log(`opsets: ${[...m.opsets].map(([d, v]) => `${d || "ai.onnx"} ${v}`).join(", ")}`);
  console.log(`inputs:\n${m.graph.inputs.map((v) => "  " + fmtInfo(v)).join("\n")}`);
  console.log(`outputs:\n${m.graph.outputs.map((v) => "  " + fmtInfo(v)).join("\n")}`);
  console.log(`initializers: ${m.graph.initializers.size}`);
  const hist = [...opHistogram(m.graph)].sort((a, b) => b[1] - a[1]);
  console.log("operators:");
  for (const [op, n] of hist) console.log(`  ${op.padEnd(28)} ${String(n).padStart(5)}`);
  const missing = hist.filter(([op]) => !OPS.has(op)).map(([op]) => op);
  console.log(missing.length === 0 ? "all operators supported" : `missing: ${missing.join(", ")}`);
}

async function run(path: string, args: string[]): Promise<void> {
  const feeds: Record<string, Tensor> = {};
  let out = ".";
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--input") {
      const [name, file] = (args[++i] ?? "").split("=");
      if (!name || !file) throw new Error(`--input wants NAME=FILE.npy\n${USAGE}`);
      feeds[name] = await loadNpy(file);
    } else if (args[i] === "--out") out = args[++i];
    else throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
  }
  const s = await loadOnnx(path);
  const t0 = performance.now();
  const res = await s.run(feeds);
  const ms = performance.now() - t0;
  for (const [name, t] of Object.entries(res)) {
    const file = `${out}/${name.replace(/[^\w.-]/g, "_")}.npy`;
    await saveNpy(file, t);
    console.log(`${name}: ${t.dtype} [${t.shape.join(", ")}] -> ${file}`);
  }
  console.log(`ran in ${ms.toFixed(1)} ms`);
}

if (import.meta.main) {
  const [cmd, name, ...rest] = Deno.args;
  try {
    const path = name && (cmd === "inspect" || cmd === "run")
      ? await resolveModel(name, { onProgress: progressBar() })
      : undefined;
    if (cmd === "inspect" && path) inspect(path);
    else if (cmd === "run" && path) await run(path, rest);
    else {
      console.error(USAGE);
      Deno.exit(2);
    }
  } catch (e) {
    console.error(e instanceof ComputeError ? `${e.name}: ${e.message}` : e);
    Deno.exit(1);
  }
}
