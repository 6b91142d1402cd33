/** The lazy safetensors reader on hostile headers (the fuzzer's seed classes and a sample). */
import assert from "node:assert/strict";
import { FormatError } from "../../core/errors.ts";
import { parseSafetensorsHeader } from "../../io/safetensors_lazy.ts";
import { rng } from "../fuzz/gguf_cases.ts";
import { hostileSt, mutateSt, runStCase, validSt } from "../fuzz/safetensors_cases.ts";

const parse = (b: Uint8Array) => parseSafetensorsHeader(b.length, (p, n) => b.subarray(p, p + n));

Deno.test("the safetensors fuzz seed is valid", () => {
  const h = parse(validSt());
  assert.deepEqual([...h.entries.keys()], ["a", "b", "c"]);
  assert.deepEqual(h.metadata, { format: "pt" });
});

for (const c of hostileSt()) {
  Deno.test(`hostile safetensors: ${c.what} → FormatError`, () => {
    assert.throws(() => parse(c.bytes), (e: unknown) => {
      assert.ok(e instanceof FormatError, `${c.what}: ${e}`);
      assert.match((e as Error).message, c.msg);
      return true;
    });
  });
}

Deno.test("1000 fixed-seed safetensors mutants: only FormatError", () => {
  const r = rng(99);
  const seeds = [validSt(), ...hostileSt().map((c) => c.bytes)];
  for (let i = 0; i < 1000; i++) {
    let b = r() < 0.5 ? seeds[0] : seeds[Math.floor(r() * seeds.length)];
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mutateSt(b, r);
    const out = runStCase(b);
    if (typeof out !== "string") assert.fail(`case ${i}: ${out.defect}`);
  }
});

const PY = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";
const haveSt = (() => {
  try {
    return new Deno.Command(PY, {
      args: ["-c", "import safetensors, torch"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "files written by the safetensors library open lazily and read bit-exactly",
  ignore: !haveSt,
  async fn() {
    const { openSafetensors } = await import("../../io/safetensors_lazy.ts");
    const { encodeBase64 } = await import("./base64.ts");
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    const script = `
import base64, json, sys, torch
from safetensors.torch import save_file
g = torch.Generator().manual_seed(3)
ts = {"f32": torch.randn(3, 5, generator=g), "f16": torch.randn(7, generator=g).half(),
      "bf16": torch.randn(2, 3, generator=g).bfloat16(), "f64": torch.randn(4, generator=g).double(),
      "i64": torch.tensor([-2**62, 5]), "u8": torch.tensor([0, 255], dtype=torch.uint8),
      "bool": torch.tensor([True, False]), "empty": torch.zeros(0, 3)}
save_file(ts, sys.argv[1], metadata={"format": "pt", "note": "ü"})
out = {k: [str(v.dtype), list(v.shape), base64.b64encode(v.contiguous().view(torch.uint8).numpy().tobytes()).decode(),
           v.float().flatten().tolist() if v.is_floating_point() else None] for k, v in ts.items()}
print(json.dumps(out))`;
    const r = await new Deno.Command(PY, {
      args: ["-c", script, path],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    const ref: Record<string, [string, number[], string, number[] | null]> = JSON.parse(
      new TextDecoder().decode(r.stdout),
    );
    using st = await openSafetensors(path);
    assert.deepEqual(st.metadata, { format: "pt", note: "ü" });
    for (const [k, [, shape, bytes, values]] of Object.entries(ref)) {
      const e = st.entries.get(k)!;
      assert.deepEqual(e.shape, shape, k);
      assert.equal(encodeBase64(st.readBytes(k)), bytes, k);
      if (values) assert.deepEqual([...st.readF32(k)], values, k);
    }
    await Deno.remove(path);
  },
});
