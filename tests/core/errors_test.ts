/**
 * The bad inputs the foundation issue names, each a typed error whose message names the op, the
 * shapes/dtypes and a hint, with nothing allocated and no partial result left behind.
 */
import assert from "node:assert/strict";
import {
  ComputeError,
  concat,
  DeviceError,
  DTypeError,
  IndexError,
  memory,
  ones,
  registerBackend,
  ShapeError,
  sum,
  tensor,
  unregisterBackend,
  zeros,
} from "../../mod.ts";
import { createHostProvider } from "../../core/backend/host.ts";

function throwsWith(
  fn: () => unknown,
  type: new (...a: never[]) => Error,
  ...parts: (string | RegExp)[]
): void {
  const before = memory();
  assert.throws(fn, (e: Error) => {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${e?.constructor?.name}: ${e?.message}`,
    );
    assert.ok(e instanceof ComputeError);
    for (const p of parts) {
      if (typeof p === "string") assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
      else assert.match(e.message, p);
    }
    return true;
  });
  assert.deepEqual(memory(), before, "a failed op must not leave tensors behind");
}

Deno.test("bad input gets a typed error with a useful message", async (t) => {
  const a = ones([2, 3]), b = ones([4]), m = ones([3, 4]), n = ones([5, 6]);
  try {
    await t.step("incompatible broadcast names both shapes and the axis", () => {
      throwsWith(() => a.add(b), ShapeError, "add", "(2, 3)", "(4,)", /broadcast/);
    });
    await t.step("bad axis names the op, the axis and the rank", () => {
      throwsWith(() => sum(a, 2), IndexError, "sum", "axis 2", "rank 2");
      throwsWith(() => a.softmax(-3), IndexError, "softmax", "-3");
      throwsWith(() => concat([a, a], 5), IndexError, "concat");
    });
    await t.step("dtype not supported by an op", () => {
      const flags = tensor([true, false]);
      throwsWith(() => flags.neg(), DTypeError, "neg", "bool");
      flags.dispose();
      throwsWith(() => tensor([1, 2], { dtype: "float32" as never }), DTypeError, "float32");
    });
    await t.step("index out of range names the index and the axis length", () => {
      throwsWith(() => a.select(1, 3), IndexError, "select", "3", "length 3");
      throwsWith(() => a.slice(5), IndexError, "5");
      const idx = tensor([[0, 7]], { dtype: "i32" });
      throwsWith(() => a.gather(1, idx), IndexError, "gather", "7");
      idx.dispose();
    });
    await t.step("ragged nested arrays say where", () => {
      throwsWith(() => tensor([[1, 2], [3]]), ShapeError, "ragged", "[1]");
      throwsWith(() => tensor([[1, 2], 3] as never), ShapeError, "[1]");
    });
    await t.step("reshape size mismatch names both shapes and the element count", () => {
      throwsWith(() => a.reshape([4, 2]), ShapeError, "(2, 3)", "(4, 2)", "6");
    });
    await t.step("matmul inner dimensions suggest a transpose", () => {
      throwsWith(() => m.matmul(n), ShapeError, "(3, 4)", "(5, 6)", "4 ≠ 5", /transpose/);
    });
    await t.step("wrong device", () => {
      registerBackend({
        name: "errors-test-device",
        device: "elsewhere",
        probe: () => ({ available: true }),
        kernels: {},
        provider: createHostProvider("elsewhere"),
      });
      const far = zeros([3], { device: "elsewhere" }), near = ones([3]);
      try {
        throwsWith(() => near.mul(far), DeviceError, "mul", "cpu", "elsewhere", ".to(");
      } finally {
        far.dispose();
        near.dispose();
        unregisterBackend("errors-test-device");
      }
    });
  } finally {
    for (const x of [a, b, m, n]) x.dispose();
  }
});

Deno.test("no silent NaN: invalid values are NaN only where NumPy gives NaN", () => {
  const x = tensor([-1, 0, 1, 4]);
  assert.deepEqual(x.sqrt().toArraySync(), [NaN, 0, 1, 2]);
  assert.deepEqual(x.log().toArraySync(), [NaN, -Infinity, 0, Math.log(4)].map(Math.fround));
});
