/**
 * ONNX node conformance: every case of the onnx wheel's generator (1884 with onnx 1.23) runs
 * through loadOnnx and is compared with the expected outputs the generator computed (onnx's
 * reference, NumPy). Cases we decline (unsupported dtypes, sequence/optional values, operators
 * we do not implement) are skips with a reason in tests/onnx/COVERAGE.md; a case that loads
 * must pass unless it is listed below with its reason.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { type CaseResult, CASES_DIR, listCases, runCase } from "./conformance_lib.ts";

/** Cases that load but fail, each with why. Fixing one must remove it from here. */
const KNOWN_FAILURES: Record<string, string> = {
  test_scan_sum: "opset-8 Scan (batch axis and sequence_lens); opset 9+ Scan passes",
  test_training_dropout: "Dropout in training mode (random masks)",
  test_training_dropout_default: "Dropout in training mode",
  test_training_dropout_default_mask: "Dropout in training mode",
  test_training_dropout_mask: "Dropout in training mode",
};

function ensureCases(): void {
  try {
    Deno.statSync(CASES_DIR);
    return;
  } catch { /* generate below */ }
  const py = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";
  const script = new URL("../../tools/onnx_node_cases.py", import.meta.url).pathname;
  const out = new URL("../../.cache/onnx-node", import.meta.url).pathname;
  const r = new Deno.Command(py, { args: [script, out], stdout: "null", stderr: "piped" })
    .outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
}

Deno.test("ONNX node conformance: every loadable case passes except the listed ones", () => {
  ensureCases();
  const results: CaseResult[] = listCases().map((n) => runCase(n));
  assert.ok(results.length >= 1800, `only ${results.length} cases generated`);
  const failed = results.filter((r) => r.status === "fail");
  const untyped = failed.filter((r) => r.reason.startsWith("untyped"));
  assert.deepEqual(untyped.map((r) => `${r.name}: ${r.reason}`), [], "untyped errors");
  const unexpected = failed.filter((r) => !(r.name in KNOWN_FAILURES));
  assert.deepEqual(unexpected.map((r) => `${r.name}: ${r.reason}`), [], "unexpected failures");
  const fixed = Object.keys(KNOWN_FAILURES).filter((n) =>
    results.find((r) => r.name === n)?.status !== "fail"
  );
  assert.deepEqual(fixed, [], "listed as failing but no longer fail: remove them");
  const base = results.filter((r) => !r.name.includes("_expanded"));
  const pass = base.filter((r) => r.status === "pass").length;
  // onnxruntime 1.30 passes 1396 of the 1884 (all kinds); the acceptance floor for the 1404
  // base cases is 1000. Record the level reached so a regression shows.
  assert.ok(pass >= 1030, `base cases passing: ${pass} / ${base.length}`);
  console.log(
    `base ${pass}/${base.length}; all ${
      results.filter((r) => r.status === "pass").length
    }/${results.length}`,
  );
});
