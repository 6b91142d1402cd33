/**
 * Issue 19, classes 7, 8, 9 and 12: backward onto a disposed leaf is a DisposedError naming it;
 * `tidy(async fn)` is an ArgumentError with nothing disposed and no unhandled rejection;
 * argument forms NumPy/PyTorch users write are accepted where unambiguous, anything else is an
 * ArgumentError listing the accepted forms; the OpenBLAS-absent reason is one actionable line.
 */
import assert from "node:assert/strict";
import {
  arange,
  ArgumentError,
  DisposedError,
  ones,
  type Tensor,
  tensor,
  tidy,
  variance,
} from "../../mod.ts";

Deno.test("class 7: backward onto a disposed leaf is a DisposedError naming it", () => {
  const w = ones([3]).requireGrad();
  const l = w.mul(2).sum();
  w.dispose();
  assert.throws(() => l.backward(), (e: unknown) => {
    assert.ok(e instanceof DisposedError, String(e));
    assert.match((e as Error).message, /shape \[3\].*input of "mul"/);
    return true;
  });
  // Variant: the disposed leaf is one of two, deep in the graph; the live one gets no partial
  // gradient either (checked before any rule runs).
  const a = ones([2, 2]).requireGrad(), b = ones([2]).requireGrad();
  const y = a.matmul(b.reshape([2, 1])).relu().mean();
  b.dispose();
  assert.throws(() => y.backward(), DisposedError);
  assert.equal(a.grad, null);
  a.dispose();
});

Deno.test("class 8: tidy(async fn) is an ArgumentError; nothing disposed, no unhandled rejection", async () => {
  let inside: Tensor | undefined;
  let later: number[] | undefined;
  assert.throws(
    () =>
      tidy(
        (async () => {
          inside = ones([2]);
          await new Promise((r) => setTimeout(r, 5));
          later = Array.from(inside.add(1).dataSync() as Float32Array);
          throw new Error("a rejection nobody awaits must not kill the process");
        }) as never,
      ),
    (e: unknown) => e instanceof ArgumentError && /await outside/.test((e as Error).message),
  );
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(later, [2, 2], "the async function kept using its tensor");
  assert.equal(inside!.disposed, false);
  inside!.dispose();
  // Variant: a thenable that is not a Promise is refused the same way.
  assert.throws(() => tidy(() => ({ then: () => {} })), ArgumentError);
});

Deno.test("class 9: slice and var accept NumPy/PyTorch forms; others list the accepted forms", () => {
  const t = arange(6, undefined, undefined, { dtype: "f32" });
  // The repro: NumPy's (start, stop, step) tuple.
  assert.deepEqual(t.slice([0, null, 2]).toArraySync(), [0, 2, 4]);
  assert.deepEqual(t.slice([null, null, -2]).toArraySync(), [5, 3, 1]);
  // PyTorch's var(dim, unbiased, keepdim) and NumPy's keywords as one object.
  const ddof1 = 3.5, ddof0 = 17.5 / 6;
  assert.equal(t.var({ axis: 0, ddof: 1 }).item(), ddof1);
  assert.equal(t.var(0, true).item(), ddof1);
  assert.ok(Math.abs((t.var(0, false).item() as number) - ddof0) < 1e-6);
  assert.deepEqual(t.std(0, true, true).shape, [1]);
  assert.equal(variance(t, 0, { ddof: 1 }).item(), ddof1);
  // Ambiguous or unknown forms: ArgumentError showing the accepted forms.
  const refused: [() => unknown, RegExp][] = [
    [() => t.var(0, false, { ddof: 1 } as never), /accepted forms/],
    [() => t.var(0, { ddof: 1, keepdim: true } as never), /unknown option "keepdim"/],
    [() => t.var({ axis: 0 }, { ddof: 1 }), /accepted forms/],
    [() => t.slice([0, null, 2, 1] as never), /\[start, stop, step\?\]/],
    [() => t.slice({ begin: 1 } as never), /unknown key "begin"/],
    [() => t.slice(true as never), /not a slice/],
    // Variant: the same class on other ops that take an axis.
    [() => t.sum({ axis: 0 } as never), /axis must be a number/],
    [() => t.mean("0" as never), /axis must be a number/],
    [() => tensor([[1, 2]]).max([0, "1"] as never), /axis must be a number/],
  ];
  for (const [f, msg] of refused) {
    assert.throws(f, (e: unknown) => e instanceof ArgumentError && msg.test((e as Error).message));
  }
  t.dispose();
});

Deno.test("class 12: the OpenBLAS-absent reason is one short line; details behind a flag", async () => {
  const code = `import { backends } from "${new URL("../../mod.ts", import.meta.url).href}";
    console.log(backends().find((b) => b.name === "openblas")?.reason ?? "");`;
  const run = async (env: Record<string, string>) => {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { ...env, APRENDER_BLAS_PATH: "/nonexistent/libopenblas.so.0" },
    }).output();
    return new TextDecoder().decode(o.stdout).trim();
  };
  const short = await run({});
  assert.match(short, /APRENDER_BLAS_PATH=\/nonexistent\/libopenblas\.so\.0 could not be loaded/);
  assert.ok(short.length < 200 && !short.includes("\n"), short);
  assert.ok(!/Could not open library: Could not open library/.test(short));
  const verbose = await run({ APRENDER_BLAS_VERBOSE: "1" });
  assert.ok(verbose.includes("/nonexistent/libopenblas.so.0:"), verbose);
});

Deno.test("class 9 (variant): an options object where keepdims goes is refused, not ignored", () => {
  const t = tensor([[1, 2], [3, 5]]);
  for (const f of [() => t.mean(0, { ddof: 1 } as never), () => t.sum(0, 1 as never)]) {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof ArgumentError, String(e));
      assert.match((e as Error).message, /keepdims .* must be a boolean/);
      return true;
    });
  }
  assert.deepEqual(t.mean(0, true).shape, [1, 2]);
  t.dispose();
});
