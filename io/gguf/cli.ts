/**
 * `deno task gguf inspect FILE [--json]` — metadata and tensor table (type, shape, bytes);
 * `deno task gguf quantize IN OUT --type q4_k` — re-quantize the weights (1-D tensors stay as
 * they are), with a progress bar.
 *
 * @module
 */
// A command-line entry: it registers the built-in backends, so quantizing runs on the WASM kernels.
import "../../backends/runtime.ts";
import { type GgufFile, openGguf } from "./read.ts";
import { quantizeGguf } from "./quantize.ts";
import { convertHf } from "./hf.ts";
import type { GgufArray, GgufTensorType, GgufValue } from "./types.ts";

const USAGE = `usage:
  deno task gguf inspect FILE [--json]
  deno task gguf convert HF_DIR OUT [--type TYPE]   (llama / qwen2: config.json + *.safetensors)
  deno task gguf quantize IN OUT --type TYPE   (q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k
                                               q6_k iq4_nl iq4_xs tq1_0 tq2_0 mxfp4 f16 bf16 f32)`;

function short(v: GgufValue): string {
  if (v.type !== "array") return v.type === "string" ? JSON.stringify(v.value) : String(v.value);
  const items = v.value.items as ArrayLike<unknown>;
  const head = Array.from({ length: Math.min(items.length, 6) }, (_, i) => {
    const x = items[i];
    return typeof x === "string" ? JSON.stringify(x) : typeof x === "object" ? "[…]" : String(x);
  });
  return `[${head.join(", ")}${items.length > 6 ? ", …" : ""}] (${items.length})`;
}

const human = (n: number) =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(2)} GiB`
    : n >= 2 ** 20
    ? `${(n / 2 ** 20).toFixed(2)} MiB`
    : n >= 1024
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${n} B`;

function jsonValue(v: GgufValue): unknown {
  const conv = (x: unknown): unknown =>
    typeof x === "bigint"
      ? x.toString()
      : ArrayBuffer.isView(x)
      ? Array.from(x as unknown as ArrayLike<unknown>, conv)
      : Array.isArray(x)
      ? x.map(conv)
      : typeof x === "object" && x !== null && "items" in x
      ? { itemType: (x as GgufArray).itemType, items: conv((x as GgufArray).items) }
      : x;
  return { type: v.type, value: conv(v.value) };
}

/** The inspect report of an open file, as text or JSON. */
export function inspect(f: GgufFile, json: boolean): string {
  if (json) {
    return JSON.stringify(
      {
        version: f.version,
        alignment: f.alignment,
        dataOffset: f.dataOffset,
        metadata: Object.fromEntries([...f.metadata].map(([k, v]) => [k, jsonValue(v)])),
        tensors: f.tensors,
      },
      null,
      1,
    );
  }
  const lines = [`GGUF v${f.version}, alignment ${f.alignment}, data at byte ${f.dataOffset}`, ""];
  lines.push(`metadata (${f.metadata.size}):`);
  for (const [k, v] of f.metadata) lines.push(`  ${k.padEnd(44)} ${v.type.padEnd(6)} ${short(v)}`);
  lines.push("", `tensors (${f.tensors.length}):`);
  const byType = new Map<string, number>();
  let total = 0;
  for (const t of f.tensors) {
    lines.push(
      `  ${t.name.padEnd(40)} ${t.type.padEnd(8)} ${JSON.stringify(t.shape).padEnd(18)} ` +
        human(t.nbytes),
    );
    byType.set(t.type, (byType.get(t.type) ?? 0) + t.nbytes);
    total += t.nbytes;
  }
  const params = f.tensors.reduce((a, t) => a + t.nelements, 0);
  lines.push(
    "",
    `${params.toLocaleString("en")} parameters, ${human(total)} of tensor data: ` +
      [...byType].map(([t, n]) => `${t} ${human(n)}`).join(", "),
  );
  return lines.join("\n");
}

function bar(done: number, total: number, name: string): string {
  const w = 30, k = Math.round((done / total) * w);
  return `\r[${"#".repeat(k)}${" ".repeat(w - k)}] ${done}/${total} ${
    name.slice(0, 40).padEnd(40)
  }`;
}

async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === "inspect" && rest.length >= 1) {
    using f = await openGguf(rest[0]);
    console.log(inspect(f, rest.includes("--json")));
    return 0;
  }
  if (cmd === "convert" && rest.length >= 2) {
    const i = rest.indexOf("--type");
    const type = (i >= 0 ? rest[i + 1].toLowerCase() : "f32") as GgufTensorType;
    const enc = new TextEncoder();
    await convertHf(rest[0], rest[1], {
      type,
      onProgress: (d, n, name) => Deno.stderr.writeSync(enc.encode(bar(d, n, name))),
    });
    console.error(`\nwrote ${rest[1]} (${type})`);
    return 0;
  }
  if (cmd === "quantize" && rest.length >= 4) {
    const i = rest.indexOf("--type");
    const files = rest.filter((_, k) => k !== i && k !== i + 1);
    if (i < 0 || files.length !== 2) {
      console.error(USAGE);
      return 2;
    }
    const type = rest[i + 1].toLowerCase() as GgufTensorType;
    const enc = new TextEncoder();
    const t0 = performance.now();
    await quantizeGguf(files[0], files[1], {
      type,
      onProgress: (d, n, name) => Deno.stderr.writeSync(enc.encode(bar(d, n, name))),
    });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.error(`\nwrote ${files[1]} (${type}) in ${s} s`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
