import assert from "node:assert/strict";
import { DisposedError, keep, memory, ones, tensor, tidy, zeros } from "../../mod.ts";

const cpuBytes = () => memory().devices.cpu?.bytes ?? 0;

Deno.test("tensor lifetimes", async (t) => {
  await t.step("memory() counts bytes of live storage", () => {
    const before = cpuBytes();
    const a = zeros([10, 10]);
    assert.equal(cpuBytes() - before, 400);
    a.dispose();
    assert.equal(cpuBytes(), before);
  });

  await t.step("views share storage and keep it alive until the last one is disposed", () => {
    const before = cpuBytes();
    const a = ones([4, 4]);
    const at = a.T;
    const v = at.slice("1:");
    at.dispose();
    assert.equal(v.storage, a.storage);
    a.dispose();
    assert.equal(cpuBytes() - before, 64, "storage stays while a view uses it");
    assert.deepEqual(v.toArraySync(), [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]);
    v.dispose();
    assert.equal(cpuBytes(), before);
  });

  await t.step("dispose twice is safe; use after dispose is a DisposedError with a hint", () => {
    const a = ones([2]);
    a.dispose();
    a.dispose();
    assert.throws(
      () => a.dataSync(),
      (e: Error) => e instanceof DisposedError && /tidy/.test(e.message),
    );
    assert.throws(() => a.add(1), DisposedError);
  });

  await t.step("`using` disposes at the end of the block", () => {
    const before = cpuBytes();
    {
      using _a = zeros([8]);
      assert.equal(cpuBytes() - before, 32);
    }
    assert.equal(cpuBytes(), before);
  });

  await t.step("tidy frees intermediates, returns results, and honours keep()", () => {
    const before = memory();
    let kept;
    const out = tidy(() => {
      const a = ones([100]);
      kept = keep(a.mul(3));
      return { sum: a.add(1).mul(2).sum(), list: [a.exp()] };
    });
    assert.equal(out.sum.item(), 400);
    assert.equal(kept!.disposed, false);
    const after = memory();
    assert.equal(after.tensors - before.tensors, 3, "sum, exp and the kept tensor remain");
    out.sum.dispose();
    out.list[0].dispose();
    kept!.dispose();
    assert.deepEqual(memory(), before);
  });

  await t.step("tidy disposes its tensors when fn throws", () => {
    const before = memory();
    assert.throws(() =>
      tidy(() => {
        ones([10]).add(1);
        throw new Error("boom");
      }), /boom/);
    assert.deepEqual(memory(), before);
  });

  await t.step("10k ops inside tidy leave memory where it started", () => {
    const before = memory();
    const x = tensor([1, 2, 3, 4]);
    tidy(() => {
      let y = x;
      for (let i = 0; i < 10_000; i++) y = y.mul(0.5).add(1).T.reshape([2, 2]).flatten();
      return undefined;
    });
    x.dispose();
    assert.deepEqual(memory(), before);
  });

  await t.step("a failed op allocates nothing", () => {
    const before = memory();
    const a = ones([2, 3]), b = ones([4, 5]);
    assert.throws(() => a.add(b));
    assert.throws(() => a.matmul(b));
    a.dispose();
    b.dispose();
    assert.deepEqual(memory(), before);
  });
});
