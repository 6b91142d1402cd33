/**
 * The layering of the library, checked on its import graph (docs/ARCHITECTURE.md):
 *
 *   core  <  plugins (backends/*)  <  nn, optim, io  <  llm  <  the root entry (mod.ts)
 *
 * - no file imports from a higher layer;
 * - a plugin (backends/<name>/) imports only core, itself, and the shared CPU runtime
 *   (backends/cpu/, which imports only core and itself); never another plugin;
 * - nn, optim, io and llm never import a plugin: at most backends/runtime.ts, the module that
 *   registers the built-in plugins and gradient rules;
 * - the plugin interface (core/backend/plugin.ts) does not depend on the Tensor class, and no
 *   plugin imports core/tensor.ts;
 * - no cycle between folders (core, each backends/ subfolder, nn, optim, io, llm, the root).
 *
 * The graph comes from each library file's static and dynamic import/export specifiers (tests,
 * bench and examples are not library files). A planted bad import must make the check fail.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const LIBRARY_DIRS = ["core", "backends", "nn", "optim", "io", "llm"];

/** Library sources by path relative to the repository root. */
function librarySources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(ROOT + rel)];
    } catch {
      return; // a layer without files yet (llm/)
    }
    for (const e of entries) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile && /\.(ts|js|mjs)$/.test(e.name)) {
        out.set(p, Deno.readTextFileSync(ROOT + p));
      }
    }
  };
  for (const d of LIBRARY_DIRS) walk(d);
  for (const f of ["mod.ts", "internal.ts"]) out.set(f, Deno.readTextFileSync(ROOT + f));
  return out;
}

const STATIC = /^\s*(?:import|export)\b[^"'`]*?(?:from\s*)?["']([^"']+)["']/;
const FROM = /^\s*}\s*from\s*["']([^"']+)["']/;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Relative specifiers of one source, resolved against its path (others are packages). */
function importsOf(path: string, src: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const line of src.split("\n")) {
    const t = line.trim();
    if (inBlock) {
      if (t.includes("*/")) inBlock = false;
      continue;
    }
    if (t.startsWith("/*")) {
      inBlock = !t.includes("*/");
      continue;
    }
    if (t.startsWith("//") || t.startsWith("*")) continue;
    const m = STATIC.exec(line) ?? FROM.exec(line);
    if (m) out.push(m[1]);
    for (const d of line.matchAll(DYNAMIC)) out.push(d[1]);
  }
  return out.filter((s) => s.startsWith("./") || s.startsWith("../")).map((s) => resolve(path, s));
}

function resolve(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const seg of spec.split("/")) {
    if (seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return parts.join("/");
}

/** The layer of a library path: 0 core, 1 plugins, 2 nn/optim/io, 3 llm, 4 the root entry. */
function layerOf(path: string): number {
  const top = path.split("/")[0];
  if (top === "core") return 0;
  if (top === "backends") return 1;
  if (top === "nn" || top === "optim" || top === "io") return 2;
  if (top === "llm") return 3;
  return 4;
}

/** Folder unit for the cycle check: backends/ is split by subfolder, other layers by top folder. */
function unitOf(path: string): string {
  const parts = path.split("/");
  if (parts.length === 1) return "(root)";
  if (parts[0] === "backends") return parts.length > 2 ? `backends/${parts[1]}` : "backends";
  return parts[0];
}

/** The plugin a path belongs to (backends/<name>/...), or null (cpu runtime, backends/*.ts, ...). */
function pluginOf(path: string): string | null {
  const parts = path.split("/");
  if (parts[0] !== "backends" || parts.length < 3 || parts[1] === "cpu") return null;
  return parts[1];
}

/** Every violation of the rules above in `sources`, as readable lines (empty: all good). */
export function violations(sources: Map<string, string>): string[] {
  const bad: string[] = [];
  const graph = new Map<string, string[]>();
  for (const [path, src] of sources) graph.set(path, importsOf(path, src));
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (!sources.has(to)) {
        bad.push(`${from} imports ${to}, which is not a library file`);
        continue;
      }
      if (layerOf(to) > layerOf(from)) {
        bad.push(`upward import: ${from} (layer ${layerOf(from)}) → ${to} (layer ${layerOf(to)})`);
      }
      const pf = pluginOf(from), pt = pluginOf(to);
      if (
        from.startsWith("backends/cpu/") && to.startsWith("backends/") &&
        unitOf(to) !== "backends/cpu"
      ) {
        bad.push(`the CPU runtime imports a plugin: ${from} → ${to}`);
      }
      if (pf !== null && to.startsWith("backends/") && pt !== pf && unitOf(to) !== "backends/cpu") {
        bad.push(`plugin-to-plugin import: ${from} → ${to}`);
      }
      if (
        layerOf(from) >= 2 && layerOf(from) < 4 && layerOf(to) === 1 && to !== "backends/runtime.ts"
      ) {
        bad.push(
          `${from} imports a plugin (${to}); only backends/runtime.ts is allowed above them`,
        );
      }
      if (pf !== null && to === "core/tensor.ts") {
        bad.push(`plugin imports the Tensor class: ${from} → ${to} (use TensorView)`);
      }
    }
  }
  // The plugin interface must not reach the Tensor class.
  const seen = new Set<string>();
  const stack = ["core/backend/plugin.ts"];
  while (stack.length) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    if (f === "core/tensor.ts") {
      bad.push("core/backend/plugin.ts depends on core/tensor.ts");
      break;
    }
    stack.push(...(graph.get(f) ?? []));
  }
  // Cycles between folder units (Tarjan's strongly connected components).
  const units = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    const u = unitOf(from);
    if (!units.has(u)) units.set(u, new Set());
    for (const to of tos) if (sources.has(to) && unitOf(to) !== u) units.get(u)!.add(unitOf(to));
  }
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>();
  const st: string[] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    st.push(v);
    on.add(v);
    for (const w of units.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w;
      do {
        w = st.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) bad.push(`import cycle between folders: ${comp.sort().join(" ↔ ")}`);
    }
  };
  for (const u of units.keys()) if (!idx.has(u)) strong(u);
  return bad;
}

Deno.test("the library's import graph follows the layers", () => {
  const sources = librarySources();
  assert.ok(sources.size > 100, `found only ${sources.size} library files`);
  assert.ok(sources.has("core/backend/plugin.ts") && sources.has("backends/cpu/pool.ts"));
  const bad = violations(sources);
  assert.deepEqual(bad, [], bad.join("\n"));
});

Deno.test("the import-graph check fails on planted bad imports", () => {
  const real = librarySources();
  const plant = (path: string, line: string) => {
    const s = new Map(real);
    assert.ok(s.has(path), path);
    s.set(path, `${line}\n${s.get(path)}`);
    return violations(s);
  };
  const has = (bad: string[], what: RegExp) =>
    assert.ok(bad.some((b) => what.test(b)), `expected ${what} among:\n${bad.join("\n")}`);
  has(
    plant("core/shape.ts", `import { Linear } from "../nn/mod.ts";`),
    /upward import: core\/shape\.ts/,
  );
  has(plant("core/shape.ts", `import { Linear } from "../nn/mod.ts";`), /cycle between folders/);
  has(
    plant("backends/openblas/ffi.ts", `import { wasmBackend } from "../wasm/mod.ts";`),
    /plugin-to-plugin import: backends\/openblas\/ffi\.ts → backends\/wasm\/mod\.ts/,
  );
  has(
    plant("backends/cpu/heap.ts", `export { scalarBackend } from "../scalar/mod.ts";`),
    /the CPU runtime imports a plugin/,
  );
  has(
    plant("nn/linear.ts", `import "../backends/wasm/mod.ts";`),
    /nn\/linear\.ts imports a plugin/,
  );
  has(
    plant("backends/scalar/util.ts", `import type { Tensor } from "../../core/tensor.ts";`),
    /plugin imports the Tensor class/,
  );
  has(
    plant("core/backend/plugin.ts", `import type { Tensor } from "../tensor.ts";`),
    /plugin\.ts depends on core\/tensor\.ts/,
  );
  has(
    plant("core/dtype.ts", `  const m = await import("../io/mod.ts");`),
    /upward import: core\/dtype\.ts/,
  );
  // Multi-line import lists end in `} from "...";`.
  has(
    plant("core/dtype.ts", `import {\n  Linear,\n} from "../nn/mod.ts";`),
    /upward import: core\/dtype\.ts/,
  );
});

Deno.test("every published entry imports the runtime module itself", () => {
  const sources = librarySources();
  const config = JSON.parse(Deno.readTextFileSync(ROOT + "deno.json"));
  for (const file of Object.values(config.exports as Record<string, string>)) {
    const path = file.replace(/^\.\//, "");
    const src = sources.get(path) ?? Deno.readTextFileSync(ROOT + path);
    assert.ok(
      importsOf(path, src).includes("backends/runtime.ts"),
      `${path} does not import backends/runtime.ts: imported alone, it would have no backend`,
    );
  }
});
