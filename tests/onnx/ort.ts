/** onnxruntime (Python, through tests/helpers/ort_ref.py) as the reference for model tests. */
import assert from "node:assert/strict";
import { decodeNpz, encodeNpz } from "../../io/npz.ts";
import type { Tensor } from "../../core/tensor.ts";

const PY = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";

/** Run onnxruntime over `steps` feed sets (keys "<step>:<name>"), carrying outputs to inputs. */
export async function ortRun(
  model: string,
  feeds: Record<string, Tensor>,
  steps: number,
  carry: Record<string, string> = {},
): Promise<Record<string, Tensor>> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/feeds.npz`, await encodeNpz(feeds));
    const req = { model, feeds: `${dir}/feeds.npz`, steps, carry, out: `${dir}/out.npz` };
    const p = new Deno.Command(PY, {
      args: [new URL("../helpers/ort_ref.py", import.meta.url).pathname],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(req)));
    await w.close();
    const res = await p.output();
    if (!res.success) throw new Error(new TextDecoder().decode(res.stderr));
    return await decodeNpz(await Deno.readFile(`${dir}/out.npz`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** max |a - b| after checking shapes; NaN anywhere fails. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (Number.isNaN(d)) return NaN;
    m = Math.max(m, d);
  }
  return m;
}
