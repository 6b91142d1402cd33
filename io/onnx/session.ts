/**
 * `loadOnnx`: an ONNX model as a session that runs its graph on our ops. The plan (node order,
 * when each intermediate value dies) is computed once at load time and reused by every run.
 *
 * @module
 */
import { DTypeError, FormatError, ShapeError } from "../../core/errors.ts";
import { keep, tidy } from "../../core/memory.ts";
import { asTensor } from "../../core/ops/creation.ts";
import { clone, contiguous as alias } from "../../core/ops/view.ts";
import type { Tensor, TensorLike } from "../../core/tensor.ts";
import {
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
  parseModel,
} from "./graph.ts";
import type { ParseOptions } from "./graph.ts";
import type { OpContext } from "./ops/registry.ts";
import { freeze, OPS } from "./ops/registry.ts";
import { buildPlan, type Plan } from "./plan.ts";
import type { NodeTime } from "./profile.ts";
import { readInput } from "../budget.ts";
import "./ops/all.ts";
import { placeInputs, staysOnHost, uploadSync } from "./placement.ts";

/**
 * An operator the model uses that this library does not implement; {@link loadOnnx} lists all
 * of them at once in {@link OnnxUnsupportedError}.
 */
export interface MissingOp {
  /** Operator domain ("" for ai.onnx). */
  domain: string;
  /** Operator name. */
  opType: string;
  /** How many nodes use it. */
  count: number;
}

/**
 * A model uses operators this library does not implement (all of them are listed).
 *
 * @example
 * ```ts
 * import { OnnxUnsupportedError } from "@aprender/compute/io";
 * const e = new OnnxUnsupportedError("m.onnx", [{ domain: "", opType: "Foo", count: 2 }]);
 * console.log(e.missing[0].opType); // "Foo"
 * ```
 */
export class OnnxUnsupportedError extends FormatError {
  /** The missing operators. */
  readonly missing: readonly MissingOp[];
  /**
   * Build the error listing every missing operator.
   *
   * @param file the model's name
   * @param missing every operator missing here
   */
  constructor(file: string, missing: readonly MissingOp[]) {
    super(
      `${file}: ${missing.length} operator(s) not supported here: ${
        missing.map((m) => `${m.domain ? m.domain + "." : ""}${m.opType} (×${m.count})`).join(
          ", ",
        )
      }. Hint: \`deno task onnx inspect\` lists the model's operators.`,
    );
    this.missing = missing;
  }
}

/** Options of {@link loadOnnx}. */
export interface LoadOnnxOptions extends ParseOptions {
  /**
   * Where float values live while the model runs (default "cpu"). On another device ("gpu"),
   * float initializers are copied there once, float feeds on the CPU are uploaded, and integer
   * and bool values (shapes, axes, indices computed from shapes) stay on the CPU, where the
   * operators that read them as numbers can (see io/onnx/placement.ts).
   */
  device?: string;
}

/** Values by name, falling back to the enclosing graph's scope (no copy per subgraph run). */
class Scope {
  readonly local = new Map<string, Tensor>();
  /** The graph's initializers and folded values (shared by all runs of the graph). */
  readonly consts: ReadonlyMap<string, Tensor>;
  readonly parent: Scope | null;
  constructor(consts: ReadonlyMap<string, Tensor>, parent: Scope | null) {
    this.consts = consts;
    this.parent = parent;
  }
  get(k: string): Tensor | undefined {
    // deno-lint-ignore no-this-alias
    let s: Scope | null = this;
    while (s !== null) {
      const t = s.local.get(k) ?? s.consts.get(k);
      if (t !== undefined) return t;
      s = s.parent;
    }
    return undefined;
  }
}

/**
 * A loaded ONNX model, ready to run.
 *
 * @example
 * ```ts ignore
 * import { loadOnnx } from "@aprender/compute/io";
 * import { tensor } from "@aprender/compute";
 * const s = await loadOnnx("model.onnx");
 * const out = await s.run({ x: tensor([[1, 2, 3]]) });
 * console.log(out[s.outputNames[0]].shape);
 * ```
 */
export class OnnxSession {
  /** The parsed model. */
  readonly model: OnnxModel;
  /** Where float values live while the model runs. */
  readonly device: string;
  readonly #plans = new Map<OnnxGraph, Plan>();
  readonly #inits = new Map<OnnxGraph, ReadonlyMap<string, Tensor>>();
  readonly #folded = new Map<OnnxGraph, ReadonlyMap<string, Tensor>>();
  readonly #consts = new Map<OnnxGraph, ReadonlyMap<string, Tensor>>();
  /** Tensors the session keeps (initializers, folded and memoized values): never handed out. */
  readonly #static = new Set<Tensor>();
  #profile: NodeTime[] | null = null;
  #depth = 0;

  /**
   * Build a session over a parsed model (use {@link loadOnnx}).
   *
   * @param model the parsed model
   * @param device where float values live while it runs (default "cpu")
   */
  constructor(model: OnnxModel, device = "cpu") {
    this.model = model;
    this.device = device;
  }

  /**
   * Outputs of graph `g`'s folded nodes (run once, on the first run; on the device). Folded nodes
   * of a subgraph may read the enclosing graphs' constants, found in `outer`.
   */
  #foldedValues(g: OnnxGraph, plan: Plan, outer: Scope | null): ReadonlyMap<string, Tensor> {
    let m = this.#folded.get(g);
    if (m !== undefined) return m;
    const vals = new Map<string, Tensor>(g.initializers);
    const out = new Map<string, Tensor>();
    plan.nodes.forEach((node, k) => {
      if (!plan.folded[k]) return;
      const inputs = node.inputs.map((v) =>
        v === "" ? undefined : vals.get(v) ?? outer?.get(v) ?? missingValue(node, v)
      );
      const ctx: OpContext = {
        node,
        opset: plan.opsets[k],
        runGraph: () => {
          throw new FormatError(`onnx run: folded node "${node.name}" has no subgraph.`);
        },
      };
      const outs = tidy(() => plan.fns[k](inputs, ctx));
      node.outputs.forEach((o, i) => {
        const t = outs[i];
        if (o === "" || t === undefined) return;
        keep(t);
        vals.set(o, t);
        const placed = this.device === "cpu" || staysOnHost(t) || t.device === this.device
          ? t
          : keep(uploadSync(t, this.device));
        out.set(o, placed);
        this.#static.add(placed);
        freeze(placed);
      });
    });
    this.#folded.set(g, out);
    m = out;
    return m;
  }

  /** Graph `g`'s initializers on the session's device (floats copied there once). */
  #initializers(g: OnnxGraph): ReadonlyMap<string, Tensor> {
    if (this.device === "cpu") {
      if (!this.#inits.has(g)) {
        this.#inits.set(g, g.initializers);
        for (const t of g.initializers.values()) this.#static.add(freeze(t));
      }
      return g.initializers;
    }
    let m = this.#inits.get(g);
    if (m === undefined) {
      const placed = new Map<string, Tensor>();
      for (const [k, t] of g.initializers) {
        // keep(): a subgraph's initializers are first placed inside its parent node's tidy().
        placed.set(
          k,
          staysOnHost(t) || t.device === this.device ? t : keep(uploadSync(t, this.device)),
        );
      }
      this.#inits.set(g, placed);
      for (const t of placed.values()) this.#static.add(freeze(t));
      m = placed;
    }
    return m;
  }

  /**
   * Start recording per-node times (every later run appends to the record; subgraph nodes
   * included), or stop when `on` is false. Read the record with {@link OnnxSession.profile}.
   *
   * @example
   * ```ts ignore
   * const s = await loadOnnx("model.onnx");
   * s.setProfiling(true);
   * await s.run(feeds);
   * console.log(profileTable(s.profile()));
   * ```
   */
  setProfiling(on: boolean): void {
    this.#profile = on ? [] : null;
  }

  /**
   * What {@link OnnxSession.setProfiling} recorded so far (empty when off).
   *
   * @example
   * ```ts ignore
   * s.setProfiling(true);
   * await s.run(feeds);
   * const slowest = [...s.profile()].sort((a, b) => b.us - a.us)[0];
   * console.log(slowest.opType, slowest.shapes, slowest.us);
   * ```
   */
  profile(): readonly NodeTime[] {
    return this.#profile ?? [];
  }

  /** The graph's declared inputs (initializers excluded). */
  get inputs(): readonly OnnxValueInfo[] {
    return this.model.graph.inputs;
  }

  /** The graph's declared outputs. */
  get outputs(): readonly OnnxValueInfo[] {
    return this.model.graph.outputs;
  }

  /** Names of the inputs. */
  get inputNames(): string[] {
    return this.model.graph.inputs.map((v) => v.name);
  }

  /** Names of the outputs. */
  get outputNames(): string[] {
    return this.model.graph.outputs.map((v) => v.name);
  }

  /** Run the graph; inputs by name, outputs by name (new tensors the caller owns). */
  // deno-lint-ignore require-await
  async run(feeds: Record<string, TensorLike>): Promise<Record<string, Tensor>> {
    return this.runSync(feeds);
  }

  /**
   * {@link OnnxSession.run}, synchronously: on the CPU the outputs are computed when it returns;
   * on a GPU the work is enqueued and outputs are read with `await t.data()`.
   */
  runSync(feeds: Record<string, TensorLike>): Record<string, Tensor> {
    const g = this.model.graph;
    const known = new Set(g.inputs.map((v) => v.name));
    for (const k of Object.keys(feeds)) {
      if (!known.has(k) && !g.initializers.has(k)) {
        throw new FormatError(
          `onnx run: unknown input "${k}". Hint: the model's inputs are ${
            [...known].map((s) => `"${s}"`).join(", ")
          }.`,
        );
      }
    }
    const vals: Tensor[] = [];
    const owned: Tensor[] = [];
    for (const v of g.inputs) {
      const f = feeds[v.name];
      if (f === undefined) {
        throw new FormatError(`onnx run: input "${v.name}" is missing from the feeds.`);
      }
      let t = asTensor(f);
      if (t !== f) owned.push(t);
      checkFeed(v, t);
      if (this.device !== "cpu" && t.device === "cpu" && !staysOnHost(t)) {
        t = uploadSync(t, this.device);
        owned.push(t);
      }
      vals.push(t);
    }
    try {
      const outs = this.#run(g, vals, null, new Set());
      return Object.fromEntries(g.outputs.map((o, i) => [o.name, outs[i]]));
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  #plan(g: OnnxGraph, outerConstants: ReadonlySet<string>): Plan {
    let p = this.#plans.get(g);
    if (p !== undefined) return p;
    p = buildPlan(g, (d) => this.model.opsets.get(d) ?? 1, outerConstants, (node) => {
      throw new OnnxUnsupportedError("onnx run", [{
        domain: node.domain,
        opType: node.opType,
        count: 1,
      }]);
    }, this.device === "cpu");
    this.#plans.set(g, p);
    return p;
  }

  /**
   * Run graph `g` with its inputs bound to `feeds`, reading free names from `outer` (whose
   * constant names are `outerConstants`).
   */
  #run(
    g: OnnxGraph,
    feeds: readonly Tensor[],
    outer: Scope | null,
    outerConstants: ReadonlySet<string>,
  ): Tensor[] {
    const plan = this.#plan(g, outerConstants);
    let consts = this.#consts.get(g);
    if (consts === undefined) {
      consts = new Map([...this.#initializers(g), ...this.#foldedValues(g, plan, outer)]);
      this.#consts.set(g, consts);
    }
    const scope = new Scope(consts, outer);
    const env = scope.local;
    g.inputs.forEach((v, i) => {
      if (feeds[i] !== undefined) env.set(v.name, feeds[i]);
    });
    // Tensors this run created and may dispose: `mine`. All others (outer scope, initializers,
    // folded and memoized values, feeds) are never disposed, and an op or a graph output that
    // hands one back gets a copy.
    const mine = new Set<Tensor>();
    const ctx = {
      node: plan.nodes[0],
      opset: 0,
      runGraph: (sub: OnnxGraph, subFeeds: readonly Tensor[]) => {
        this.#depth++;
        try {
          return this.#run(sub, subFeeds, scope, plan.constants);
        } finally {
          this.#depth--;
        }
      },
    };
    try {
      plan.nodes.forEach((node, k) => {
        if (plan.folded[k]) return;
        const fn = plan.fns[k];
        const inputs = node.inputs.map((v) =>
          v === "" ? undefined : scope.get(v) ?? missingValue(node, v)
        );
        const made: Tensor[] = [];
        const placed = this.device === "cpu"
          ? inputs
          : placeInputs(node.opType, inputs, this.device, made);
        ctx.node = node;
        ctx.opset = plan.opsets[k];
        const t0 = this.#profile === null ? 0 : performance.now();
        const memo = plan.memo[k];
        const key = memo === null ? null : memo.key(placed);
        let outs = key === null ? undefined : memo!.get(key);
        const cached = outs !== undefined;
        if (outs === undefined) {
          try {
            outs = tidy(() => {
              const r = fn(placed, ctx);
              // An op may hand back an input (Identity, no-op Reshape): give it its own view
              // (storage is reference-counted; values are never written in place).
              return r.map((t) => (placed.includes(t) || this.#static.has(t) ? alias(t) : t));
            });
          } finally {
            for (const t of made) t.dispose();
          }
        } else for (const t of made) t.dispose();
        if (this.#profile !== null) {
          this.#profile.push({
            node: node.name,
            opType: (node.fusedInputActivation ? `${node.fusedInputActivation}+` : "") +
              node.opType + (node.fusedActivation ? `+${node.fusedActivation}` : ""),
            shapes: placed.map((t) => (t === undefined ? null : t.shape)),
            us: (performance.now() - t0) * 1000,
            depth: this.#depth,
            memo: cached,
          });
        }
        // Shape arithmetic is kept by its input values; kept outputs are the session's.
        const kept = !cached && key !== null && outs.length === node.outputs.length &&
          outs.every((t) => t !== undefined) && memo!.set(key, outs);
        if (kept) { for (const t of outs) this.#static.add(t); }
        const own = !cached && !kept;
        node.outputs.forEach((o, i) => {
          if (o === "") {
            if (own) outs[i]?.dispose();
            return;
          }
          if (outs[i] === undefined) {
            throw new FormatError(`onnx run: node "${node.name}" produced no output #${i}.`);
          }
          env.set(o, outs[i]);
          if (own) mine.add(outs[i]);
        });
        if (own) { for (let i = node.outputs.length; i < outs.length; i++) outs[i].dispose(); }
        for (const v of plan.dying[k]) {
          const t = env.get(v);
          if (t !== undefined && mine.has(t)) {
            t.dispose();
            mine.delete(t);
            env.delete(v);
          }
        }
      });
      return g.outputs.map((o) => {
        const t = scope.get(o.name);
        if (t === undefined) throw new FormatError(`onnx run: output "${o.name}" has no value.`);
        if (mine.has(t)) {
          mine.delete(t);
          return t;
        }
        return clone(t); // not made by this run: the caller gets its own copy
      });
    } finally {
      for (const t of mine) t.dispose();
    }
  }
}

function missingValue(node: OnnxNode, v: string): never {
  throw new FormatError(`onnx run: node "${node.name}" reads "${v}", which has no value.`);
}

/** A feed must have the declared dtype, rank and fixed dimensions (symbolic ones are free). */
function checkFeed(v: OnnxValueInfo, t: Tensor): void {
  if (v.dtype !== null && t.dtype !== v.dtype) {
    throw new DTypeError(
      `onnx run: input "${v.name}" is ${t.dtype}, but the model declares ${v.dtype}. ` +
        `Hint: t.astype("${v.dtype}").`,
    );
  }
  if (v.shape === null) return;
  const bad = t.ndim !== v.shape.length ||
    v.shape.some((d, i) => typeof d === "number" && d !== t.shape[i]);
  if (bad) {
    throw new ShapeError(
      `onnx run: input "${v.name}" has shape [${t.shape.join(", ")}], but the model declares ` +
        `[${v.shape.map((d) => d ?? "?").join(", ")}] (names and ? are free dimensions).`,
    );
  }
}

/**
 * Check that every operator of the model is implemented; list all missing ones at once.
 */
export function checkOperators(model: OnnxModel, file: string): void {
  const missing = new Map<string, MissingOp>();
  const stack: OnnxGraph[] = [model.graph];
  while (stack.length > 0) {
    const g = stack.pop()!;
    for (const n of g.nodes) {
      const key = n.domain === "" ? n.opType : `${n.domain}.${n.opType}`;
      if (!OPS.has(key)) {
        const m = missing.get(key) ?? { domain: n.domain, opType: n.opType, count: 0 };
        m.count++;
        missing.set(key, m);
      }
      for (const v of n.attrs.values()) {
        for (const s of Array.isArray(v) ? v : [v]) {
          if (typeof s === "object" && s !== null && "nodes" in s) stack.push(s as OnnxGraph);
        }
      }
    }
  }
  if (missing.size > 0) throw new OnnxUnsupportedError(file, [...missing.values()]);
}

/**
 * Load an ONNX model from a path or its bytes and return a session that runs it on our ops.
 * External data files are read relative to the model's folder (or `options.baseDir`). All
 * operators the model uses but this library lacks are reported at once
 * ({@link OnnxUnsupportedError}); malformed files give a {@link FormatError}.
 *
 * @example
 * ```ts ignore
 * import { loadOnnx } from "@aprender/compute/io";
 * import { ones } from "@aprender/compute";
 * const s = await loadOnnx("mlp.onnx");
 * const { y } = await s.run({ x: ones([1, 4]) });
 * console.log(y.shape);
 * ```
 */
export async function loadOnnx(
  source: string | Uint8Array,
  options: LoadOnnxOptions = {},
): Promise<OnnxSession> {
  let bytes: Uint8Array;
  const opts = { ...options };
  if (typeof source === "string") {
    bytes = (await readInput(source, "loadOnnx")).bytes;
    opts.name ??= source;
    opts.baseDir ??= source.includes("/") ? source.slice(0, source.lastIndexOf("/")) : ".";
  } else bytes = source;
  return loadOnnxSync(bytes, opts);
}

/** {@link loadOnnx} from bytes, synchronously. */
export function loadOnnxSync(bytes: Uint8Array, options: LoadOnnxOptions = {}): OnnxSession {
  const model = parseModel(bytes, options);
  checkOperators(model, options.name ?? "<bytes>");
  return new OnnxSession(model, options.device ?? "cpu");
}
