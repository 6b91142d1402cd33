/**
 * The WASM ABI generated from one list (backends/cpu/abi.ts): the committed C header and TS
 * module are what the generator writes, the TS tables name declared ops, and an op code outside
 * the list is an error on both sides (the TS runner refuses it; the module traps on it) instead
 * of silently computing some default op.
 */
import assert from "node:assert/strict";
import { cHeader } from "../../backends/cpu/gen_abi.ts";
import { BINARY_CODES, UNARY_CODES } from "../../backends/cpu/abi.ts";
import {
  BINARY_CODE_COUNT,
  BINARY_OPS,
  COMPARE_OPS,
  GELU_ERF,
  LOGICAL_OPS,
  PREDICATE_OPS,
  UNARY_CODE_COUNT,
  UNARY_OPS,
} from "../../backends/cpu/abi.generated.ts";
import { runElementwise } from "../../backends/cpu/elementwise.ts";
import { address, beginJob, KIND, runPar, W } from "../../backends/cpu/jobs.ts";
import { isOpName } from "../../core/ops/contracts/mod.ts";
import { DeviceError, tensor, zeros } from "../../mod.ts";

const here = new URL("../../backends/cpu/", import.meta.url);

Deno.test("the committed ABI files are what gen_abi.ts writes from abi.ts", async () => {
  assert.equal(
    await Deno.readTextFile(new URL("src/abi.generated.h", here)),
    cHeader(),
    "src/abi.generated.h is stale: run deno run -A backends/cpu/gen_abi.ts",
  );
  const dir = await Deno.makeTempDir();
  try {
    const gen = new URL("gen_abi.ts", here).pathname;
    const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", gen, dir] }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    assert.equal(
      await Deno.readTextFile(`${dir}/abi.generated.ts`),
      await Deno.readTextFile(new URL("abi.generated.ts", here)),
      "abi.generated.ts is stale: run deno run -A backends/cpu/gen_abi.ts",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the TS op-code tables follow the list's order and name declared ops", () => {
  const all = { ...BINARY_OPS, ...COMPARE_OPS, ...LOGICAL_OPS, ...PREDICATE_OPS, ...UNARY_OPS };
  for (const name of Object.keys(all)) assert.ok(isOpName(name), `${name} is not declared`);
  assert.equal(BINARY_CODE_COUNT, BINARY_CODES.length);
  assert.equal(UNARY_CODE_COUNT, UNARY_CODES.length);
  for (const [name, code] of Object.entries({ ...BINARY_OPS, ...COMPARE_OPS })) {
    assert.equal(BINARY_CODES[code].op, name);
  }
  for (const [name, code] of Object.entries({ ...UNARY_OPS, ...PREDICATE_OPS })) {
    assert.equal(UNARY_CODES[code].op, name);
  }
  assert.equal(UNARY_CODES[GELU_ERF].c, "U_GELU_ERF");
  assert.equal(UNARY_CODES[LOGICAL_OPS.logicalNot].c, "U_NOT");
  assert.equal(BINARY_CODES[LOGICAL_OPS.logicalAnd].c, "B_AND");
});

Deno.test("an unknown WASM op code is an error, not a default op", () => {
  const x = tensor(new Float32Array([1, 2, 3, 4]));
  const out = zeros([4], { dtype: "f32" });
  try {
    const addrs = [address(out), address(x), address(x)];
    const st = [[1], [1], [1]];
    for (
      const [kind, code] of [["unary", UNARY_CODE_COUNT], ["binary", BINARY_CODE_COUNT]] as const
    ) {
      assert.throws(
        () => runElementwise(kind, code, "f32", [4], addrs, st, false),
        (e: Error) =>
          e instanceof DeviceError && /op code \d+ is not in the ABI list/.test(e.message),
      );
      assert.throws(() => runElementwise(kind, -1, "f32", [4], addrs, st, false), DeviceError);
    }
    // Past the TS check, the module itself refuses it: a job written by hand with an unknown
    // unary code traps (before, it computed x² into the output).
    const v = beginJob(KIND.unary);
    const w = v.i32;
    w[W.op] = UNARY_CODE_COUNT + 7;
    w[W.dtype] = 0;
    w[W.ndim] = 1;
    w[W.total] = 4;
    w[W.ptr] = addrs[0];
    w[W.ptr + 1] = addrs[1];
    w[W.shape] = 4;
    w[W.strides] = 1;
    w[W.strides + 8] = 1;
    assert.throws(() => runPar(v, 1, 1), WebAssembly.RuntimeError);
    assert.deepEqual([...out.dataSync()], [0, 0, 0, 0], "the trapped job wrote nothing");
    // The runtime still works after the trap.
    const sq = x.square();
    assert.deepEqual([...sq.dataSync()], [1, 4, 9, 16]);
    sq.dispose();
  } finally {
    x.dispose();
    out.dispose();
  }
});
