/**
 * Per-node timing of ONNX sessions (`OnnxSession.setProfiling`) and its summary table.
 *
 * @module
 */

/** One node's run, as `OnnxSession.setProfiling` records it. */
export interface NodeTime {
  /** Node name. */
  readonly node: string;
  /** Operator name. */
  readonly opType: string;
  /** Input shapes (null for an omitted input). */
  readonly shapes: readonly (readonly number[] | null)[];
  /** Wall time in microseconds (the operator and its tidy scope; subgraphs included). */
  readonly us: number;
  /** Subgraph depth (0: the main graph; a subgraph's nodes are also inside their parent's time). */
  readonly depth: number;
  /** Whether the outputs came from the node's memo (shape arithmetic seen before). */
  readonly memo?: boolean;
}

/**
 * A profile as a Markdown table: each node's median time over the runs, summed by (operator,
 * input shapes), largest first, with nodes and µs per run (`runs`: how many runs it covers).
 *
 * @example
 * ```ts
 * import { profileTable } from "@aprender/compute/io";
 * const t = profileTable([{ node: "n", opType: "Relu", shapes: [[2, 3]], us: 4, depth: 0 }], 1);
 * console.log(t.split("\n")[2]); // "| Relu | [2,3] | 1 | 4.0 | 4.0 |"
 * ```
 */
export function profileTable(p: readonly NodeTime[], runs = 1, top = 40): string {
  // Each node's median over the runs (robust to the odd preempted run), summed by op and shapes.
  const perNode = new Map<string, NodeTime[]>();
  for (const r of p) {
    const k = `${r.depth} ${r.node}`;
    const l = perNode.get(k) ?? [];
    l.push(r);
    perNode.set(k, l);
  }
  const rows = new Map<string, { op: string; shapes: string; n: number; us: number }>();
  let total = 0;
  let nodes = 0;
  for (const l of perNode.values()) {
    const r = l[0];
    const us = l.map((x) => x.us).sort((a, b) => a - b)[Math.floor(l.length / 2)] * l.length /
      runs;
    const shapes = r.shapes.map((s) => (s === null ? "-" : `[${s.join(",")}]`)).join(" ");
    const op = r.memo ? `${r.opType} (memo)` : r.opType;
    const k = `${op} ${shapes}`;
    const e = rows.get(k) ?? { op, shapes, n: 0, us: 0 };
    e.n += l.length / runs;
    e.us += us;
    if (r.depth === 0) total += us;
    if (r.opType !== "If" && r.opType !== "Loop" && r.opType !== "Scan") nodes += l.length / runs;
    rows.set(k, e);
  }
  const sorted = [...rows.values()].sort((a, b) => b.us - a.us).slice(0, top);
  return [
    `| op | input shapes | nodes/run | µs/run | µs/node |`,
    `|---|---|---|---|---|`,
    ...sorted.map((e) =>
      `| ${e.op} | ${e.shapes} | ${+e.n.toFixed(2)} | ${e.us.toFixed(1)} | ${
        (e.us / e.n).toFixed(1)
      } |`
    ),
    `| **total** (main graph; nodes: all but control flow) | | ${+nodes.toFixed(2)} | ${
      total.toFixed(1)
    } | |`,
  ].join("\n");
}
