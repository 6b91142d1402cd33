/**
 * WebGPU: 1-element operands passed as kernel parameters (a weak scalar such as the 1 of
 * `x.add(1)` never becomes a GPU buffer), the lazy placement of tiny storages, and the f16-math
 * GEMM, each against the scalar backend (the reference) on whatever adapter the machine has.
 *
 * Tolerances: scalar-operand results are exact for integer/bool dtypes and within 1 f32 ulp
 * (rtol 2e-6) or one f16/bf16 ulp (rtol 8e-3) for floats — the same arithmetic as a buffer
 * operand. The f16 GEMM's error is measured in units of u·(Σ|a||b| + |c|), u = 2^-11 (f16's unit
 * roundoff; the textbook bound of a K-term dot product is K·u·Σ|a||b|): ≤ 1 with f32 math, ≤ 4
 * with f16 math (measured on lavapipe: ≤ 1.51 with 16-term f16 chunks, ≤ 2.42 with 32- and
 * 64-term chunks over 32-term K tiles; 0.56 with f32 math).
 */
import assert from "node:assert/strict";
import { type DType, type Tensor, tensor, tidy } from "../../mod.ts";
import { webgpuContext } from "../../internal.ts";
import { makeTensor } from "../helpers/gen.ts";
import { GPU_TEST } from "../helpers/webgpu.ts";

const opts = GPU_TEST;

async function close(name: string, g: Tensor, w: Tensor, rtol: number, atol = 0) {
  assert.deepEqual(g.shape, w.shape, `${name}: shape`);
  assert.equal(g.dtype, w.dtype, `${name}: dtype`);
  const a = await g.data(), e = w.dataSync();
  for (let i = 0; i < e.length; i++) {
    const x = Number(a[i]), y = Number(e[i]);
    const where = `${name}[${i}]: got ${x}, want ${y}`;
    if (Number.isNaN(y)) assert.ok(Number.isNaN(x), where);
    else if (!Number.isFinite(y)) assert.equal(x, y, where);
    else assert.ok(Math.abs(x - y) <= atol + rtol * Math.abs(y), where);
  }
}

Deno.test(
  { name: "webgpu weak scalars are kernel parameters, exact per dtype", ...opts },
  async () => {
    const ctx = webgpuContext()!;
    const cases: [DType, number[]][] = [
      ["f32", [0.5, -3, 1e-3]],
      ["f16", [0.5, -3, 1e-3]],
      ["bf16", [0.5, -3, 1e-3]],
      ["i32", [3, -7, 2147483647]],
      ["i16", [3, -7]],
      ["i8", [3, -7, 127]],
      ["u8", [3, 200]],
    ];
    // Comparisons of an integer tensor with a number are exact in the scalar backend (the number
    // stays f64), which the GPU does not compute: float dtypes only for those.
    const floatOps = ["add", "sub", "mul", "maximum", "lt", "eq"] as const;
    const intOps = ["add", "sub", "mul", "maximum"] as const;
    let seed = 1;
    // 12 elements (vec4 path for f32) and 7 (general path), contiguous and transposed.
    for (const [dt, values] of cases) {
      for (const shape of [[3, 4], [7]]) {
        for (const layout of ["contiguous", "transposed"] as const) {
          const x = makeTensor(shape, dt, seed++, layout);
          const gx = await x.to("gpu");
          for (const v of values) {
            for (const op of dt === "f32" || dt === "f16" || dt === "bf16" ? floatOps : intOps) {
              const params = ctx.paramOperands;
              const right = gx[op](v);
              assert.equal(ctx.paramOperands, params + 1, `${op} ${dt}: scalar passed in metadata`);
              const rtol = dt === "f32" ? 2e-6 : dt === "f16" || dt === "bf16" ? 8e-3 : 0;
              await close(`${dt} ${shape} ${layout} x.${op}(${v})`, right, x[op](v), rtol);
              right.dispose();
            }
            // The scalar on the left, and as a 0-d GPU tensor.
            const s = tensor(v, { dtype: dt, device: "gpu" });
            const sc = tensor(v, { dtype: dt });
            const rt = dt === "f32" ? 2e-6 : dt === "f16" || dt === "bf16" ? 8e-3 : 0;
            await close(`${dt} ${v} - x`, s.sub(gx), sc.sub(x), rt);
            s.dispose();
            sc.dispose();
          }
          x.dispose();
          gx.dispose();
        }
      }
    }
    // bool: where with scalar branches, logical ops with a scalar.
    const m = makeTensor([9], "bool", 77);
    const gm = await m.to("gpu");
    const f = makeTensor([9], "f32", 78);
    const gf = await f.to("gpu");
    const { where } = await import("../../mod.ts");
    await close("where(m, x, -2)", where(gm, gf, -2), where(m, f, -2), 0);
    await close("where(m, 1.5, x)", where(gm, 1.5, gf), where(m, 1.5, f), 0);
    for (const t of [m, gm, f, gf]) t.dispose();
  },
);

Deno.test({ name: "webgpu tiny storages are placed on first use", ...opts }, async () => {
  // A 0-d tensor read back, reduced, written into, and a reduction's 0-d output.
  const s = tensor(2.5, { device: "gpu" });
  assert.deepEqual(Array.from(await s.data() as Float32Array), [2.5]);
  const v = tensor([1, 2, 3, 4], { device: "gpu" }); // 16 bytes: lazy too
  assert.equal((await v.sum().data())[0], 10);
  const w = v.mul(s).add(v.sum()); // lazy 16-byte inputs bound by buffer kernels
  assert.deepEqual(Array.from(await w.data() as Float32Array), [12.5, 15, 17.5, 20]);
  const z = tensor(0, { device: "gpu" }); // never written on the host: zeros
  assert.deepEqual(Array.from(await z.add(v).data() as Float32Array), [1, 2, 3, 4]);
  const { copyInto } = await import("../../mod.ts");
  const seven = tensor(7, { device: "gpu" });
  copyInto(z, seven);
  seven.dispose();
  assert.equal((await z.data())[0], 7);
  const r = tidy(() => v.max().mul(s).neg());
  assert.equal((await r.data())[0], -10);
  for (const t of [s, v, w, z, r]) t.dispose();
});

Deno.test(
  { name: "webgpu f16 GEMM (f16 math where shader-f16 exists) matches scalar", ...opts },
  async () => {
    const ctx = webgpuContext()!;
    const saved = [ctx.f16GemmChunk, ctx.f16GemmTile];
    let seed = 900;
    // The default (32-term chunks and K tiles) on three layouts, 64-term chunks (folded across
    // tiles) and the 16-term K tile on row-major and transposed operands.
    const shapes = [
      [130, 36, 132, "contiguous", "contiguous"],
      [128, 64, 128, "transposed", "contiguous"],
      [64, 48, 136, "contiguous", "transposed"],
      [96, 40, 136, "transposed", "transposed"],
    ] as const;
    const configs = [[saved[0], saved[1], [0, 1, 2]], [64, 32, [0, 1, 3]], [16, 16, [
      0,
      3,
    ]]] as const;
    try {
      for (const [chunk, tile, which] of configs) {
        ctx.f16GemmChunk = chunk;
        ctx.f16GemmTile = tile;
        for (const [m, k, n, la, lb] of which.map((i) => shapes[i])) {
          const a = makeTensor([m, k], "f16", seed++, la),
            b = makeTensor([k, n], "f16", seed++, lb);
          const [ga, gb] = [await a.to("gpu"), await b.to("gpu")];
          // Error scale of a K-term dot product: u16 · Σ|a||b| (u16 = 2^-11, f16's unit roundoff).
          const scale = a.astype("f32").abs().matmul(b.astype("f32").abs());
          const g = ga.matmul(gb), w = a.matmul(b);
          const d = (await g.astype("f32").data()) as Float32Array;
          const e = w.astype("f32").dataSync() as Float32Array,
            sc = scale.dataSync() as Float32Array;
          let worst = 0;
          for (let i = 0; i < e.length; i++) {
            worst = Math.max(
              worst,
              Math.abs(d[i] - e[i]) / (sc[i] * 2 ** -11 + Math.abs(e[i]) * 2 ** -11),
            );
          }
          // Measured here (lavapipe): ≤ 0.56 with f32 math; with f16 math ≤ 1.51 (16-term
          // chunks), ≤ 2.42 (32), ≤ 2.85 (64-term chunks over 32-term K tiles).
          const bound = chunk > 0 ? 4 : 1;
          const what = `matmul f16 ${m}x${k}x${n} ${la}/${lb} chunk ${chunk} tile ${tile}`;
          assert.ok(worst <= bound, `${what}: error ${worst} > ${bound}`);
          if (Deno.env.get("F16_GEMM_ERR")) console.log(`${what}: error ${worst.toFixed(3)}`);
          assert.equal(g.dtype, "f16");
          for (const t of [g, w, scale]) t.dispose();
          for (const t of [a, b, ga, gb]) t.dispose();
        }
      }
    } finally {
      [ctx.f16GemmChunk, ctx.f16GemmTile] = saved;
    }
  },
);
