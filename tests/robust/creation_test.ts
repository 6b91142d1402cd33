/**
 * Issue 19, classes 4, 5 and 10: allocations that cannot succeed are an AllocationError before
 * anything is allocated (naming the op, the shape, the bytes and the limit); fills run at memory
 * speed and empty tensors convert in O(1); values out of an integer dtype's range are a
 * DTypeError at creation, decided like NumPy 2 (checked against NumPy in the venv).
 */
import assert from "node:assert/strict";
import {
  AllocationError,
  arange,
  decodeNpy,
  DTypeError,
  encodeNpy,
  eye,
  full,
  linspace,
  memory,
  ones,
  rand,
  randint,
  randn,
  tensor,
  zeros,
} from "../../mod.ts";
import { needsNumpy, PYTHON } from "../helpers/numpy.ts";

function allocationError(f: () => unknown, op: string, what: string): void {
  const before = memory().devices.cpu?.bytes ?? 0;
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof AllocationError, `${what}: ${e}`);
    const m = (e as Error).message;
    assert.ok(m.startsWith(`${op}: `), `${what}: names the op: ${m}`);
    assert.match(m, /shape \(/, `${what}: names the shape`);
    assert.match(m, /needs \d+ bytes/, `${what}: names the bytes`);
    return true;
  });
  assert.equal(memory().devices.cpu?.bytes ?? 0, before, `${what}: nothing left allocated`);
}

Deno.test("class 4: the issue's allocations are AllocationErrors naming op, shape, bytes", () => {
  allocationError(() => zeros([1e6, 1e6]), "zeros", "zeros");
  allocationError(() => randn([1e5, 1e5]), "randn", "randn");
  allocationError(() => eye(1e6), "eye", "eye");
  allocationError(() => arange(0, 1e15), "arange", "arange");
  const a = ones([1e5]).reshape([1e5, 1]), b = ones([1e5]);
  allocationError(() => a.mul(b), "mul", "outer product");
  const one = ones([1]);
  allocationError(() => one.broadcastTo([2 ** 20, 2 ** 20]).contiguous(), "copy", "broadcast");
  allocationError(() => ones([2 ** 53]), "full", "ones([2**53])");
  for (const t of [a, b, one]) t.dispose();
});

Deno.test("class 4 (reviewer's variant): other creators and ops take the same path", () => {
  allocationError(() => rand([2 ** 27, 2 ** 27]), "rand", "rand");
  allocationError(() => randint(0, 5, [2 ** 30, 2 ** 30]), "randint", "randint");
  allocationError(() => linspace(0, 1, 2 ** 52), "linspace", "linspace");
  allocationError(() => full([2 ** 40, 2 ** 20], 3, { dtype: "i8" }), "full", "full i8");
  const v = arange(4, undefined, undefined, { dtype: "f32" });
  allocationError(() => v.reshape([4, 1]).broadcastTo([4, 2 ** 50]).add(1), "add", "add");
  v.dispose();
});

Deno.test("class 5: fills run at memory speed; empty tensors convert in O(1)", () => {
  // 16 MiB, written by a tiled chunk copy (no per-element JS loop, no Float64 temporary).
  let t0 = performance.now();
  const big = full([2 ** 22], 1.5);
  const fillMs = performance.now() - t0;
  const d = big.dataSync();
  assert.ok(d[0] === 1.5 && d[d.length - 1] === 1.5 && d[2 ** 21 + 7] === 1.5);
  big.dispose();
  assert.ok(fillMs < 2000, `full of 16 MiB took ${fillMs.toFixed(0)} ms`);
  const u = full([1000003], 200, { dtype: "u8" });
  assert.ok(u.dataSync().every((x) => x === 200));
  u.dispose();
  t0 = performance.now();
  const e = decodeNpy(encodeNpy(zeros([2 ** 31, 0])));
  assert.deepEqual(e.shape, [2 ** 31, 0]);
  assert.equal(e.dataSync().length, 0);
  assert.throws(() => e.toArraySync(), AllocationError);
  assert.deepEqual(zeros([3, 0, 2]).toArraySync(), [[], [], []]);
  // An axis after an empty one is never built, however long: (0, 2^40) is [] like NumPy's tolist.
  assert.deepEqual(zeros([0, 2 ** 40]).toArraySync(), []);
  assert.deepEqual(zeros([2, 0, 2 ** 40]).toArraySync(), [[], []]);
  assert.ok(performance.now() - t0 < 1000, "empty tensors are O(1)");
  e.dispose();
});

const INT_DTYPES = ["i8", "u8", "i16", "u16", "i32", "u32", "i64"] as const;
const VALUES = [
  0,
  1.5,
  -1.5,
  127,
  128,
  -129,
  255,
  256,
  -1,
  65535,
  65536,
  2 ** 31,
  -(2 ** 31),
  2 ** 32,
  2 ** 53,
  2 ** 63,
  -(2 ** 63),
  NaN,
  Infinity,
  -Infinity,
];

Deno.test({
  name: "class 10: out-of-range values at creation follow NumPy 2 (np.array(list, dtype))",
  ...needsNumpy,
  fn: async () => {
    const py = `
import numpy as np, json, math
vals = json.loads(${JSON.stringify(JSON.stringify(VALUES.map(String)))})
out = {}
for d in ${
      JSON.stringify(INT_DTYPES.map((d) =>
        ({
          i8: "int8",
          u8: "uint8",
          i16: "int16",
          u16: "uint16",
          i32: "int32",
          u32: "uint32",
          i64: "int64",
        })[d]
      ))
    }:
  row = []
  for v in vals:
    x = float(v)
    try: row.append(int(np.array([x], dtype=d)[0]))
    except (OverflowError, ValueError): row.append(None)
  out[d] = row
print(json.dumps(out))`;
    const o = await new Deno.Command(PYTHON!, { args: ["-c", py] }).output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    const ref = Object.values(
      JSON.parse(new TextDecoder().decode(o.stdout)),
    ) as (number | null)[][];
    INT_DTYPES.forEach((d, i) => {
      VALUES.forEach((v, j) => {
        const want = ref[i][j];
        if (want === null) {
          assert.throws(() => tensor([v], { dtype: d }), DTypeError, `${v} → ${d}`);
          assert.throws(() => full([2], v, { dtype: d }), DTypeError, `full ${v} → ${d}`);
        } else {
          const t = tensor([v], { dtype: d });
          assert.equal(Number(t.dataSync()[0]), want, `${v} → ${d}`);
          t.dispose();
        }
      });
    });
  },
});

Deno.test("class 10: the issue's repro, and bigint leaves beyond i64", () => {
  assert.throws(() => tensor([300, -1], { dtype: "u8" }), DTypeError);
  assert.throws(() => tensor([NaN], { dtype: "i32" }), DTypeError);
  assert.throws(() => tensor([[1n], [2n ** 63n]]), DTypeError);
  const ok = tensor([[1n], [2n ** 63n - 1n]]);
  assert.equal(ok.dataSync()[1], 2n ** 63n - 1n);
  ok.dispose();
  // A typed array converts like astype (wraps), as np.array(np_array, dtype) does.
  const w = tensor(new Float64Array([300]), { dtype: "u8" });
  assert.equal(w.dataSync()[0], 44);
  w.dispose();
});
