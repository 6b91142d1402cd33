/**
 * Issue 19, class 6: i64 arithmetic is exact and wraps like NumPy's int64: add, sub, mul (tensor
 * and scalar operands, broadcasting, strided views) and sum, against NumPy on values near 2^53
 * and 2^63 (float64 arithmetic turned 2^53 + 1 into 2^53).
 */
import assert from "node:assert/strict";
import { tensor } from "../../mod.ts";
import { needsNumpy, PYTHON } from "../helpers/numpy.ts";

Deno.test("class 6: 2^53 + 1 in i64 stays 2^53 + 1 (tensor, scalar, sum)", () => {
  const a = tensor([2n ** 53n + 1n]), one = tensor([1n]);
  assert.equal(a.add(one).dataSync()[0], 2n ** 53n + 2n);
  assert.equal(a.add(1).dataSync()[0], 2n ** 53n + 2n);
  assert.equal(tensor([2n ** 53n, 1n]).sum().dataSync()[0], 2n ** 53n + 1n);
  assert.equal(tensor([2n ** 63n - 1n]).add(one).dataSync()[0], -(2n ** 63n)); // wraps
});

Deno.test({
  name: "class 6 (variant): i64 add/sub/mul/sum with broadcasting and views equal NumPy's wrap",
  ...needsNumpy,
  fn: async () => {
    const vals = [
      2n ** 53n + 1n,
      -(2n ** 53n) - 3n,
      2n ** 62n + 12345n,
      -(2n ** 63n),
      2n ** 63n - 1n,
      987654321987654321n,
      -5n,
      7n,
      0n,
      3037000500n,
      -4611686018427387905n,
      1n,
    ];
    const x = tensor(vals.map((v) => [v]) as never).reshape([3, 4]);
    const y = tensor(vals.slice().reverse().slice(0, 4) as never);
    const xt = x.T; // a strided view
    const ours = {
      add: x.add(y),
      sub: x.sub(y),
      mul: x.mul(y),
      tsub: xt.sub(xt),
      tmul: xt.mul(xt),
      sum0: x.sum(0),
      sum1: x.sum(1),
      sumAll: x.sum(),
      tsum: xt.sum(1),
    };
    const py = `
import numpy as np, json, sys
v = np.array([int(s) for s in json.loads(sys.argv[1])], dtype=np.int64)
x = v.reshape(3, 4); y = v[::-1][:4].copy(); xt = x.T
with np.errstate(over="ignore"):
  r = dict(add=x + y, sub=x - y, mul=x * y, tsub=xt - xt, tmul=xt * xt,
           sum0=x.sum(0), sum1=x.sum(1), sumAll=x.sum(), tsum=xt.sum(1))
print(json.dumps({k: [str(int(e)) for e in np.asarray(a).ravel()] for k, a in r.items()}))`;
    const o = await new Deno.Command(PYTHON!, {
      args: ["-c", py, JSON.stringify(vals.map(String))],
    }).output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    const ref = JSON.parse(new TextDecoder().decode(o.stdout)) as Record<string, string[]>;
    for (const [k, t] of Object.entries(ours)) {
      const got = Array.from(t.contiguous().dataSync() as BigInt64Array, String);
      assert.deepEqual(got, ref[k], k);
      t.dispose();
    }
  },
});
