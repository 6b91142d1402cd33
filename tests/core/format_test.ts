/**
 * Printing: our NumPy-style text against `np.array2string` on many random arrays (every float
 * width NumPy has, ints, bools, specials, wide magnitudes, summarized large arrays), and the
 * `tensor(..., dtype=...)` wrapper.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type DType, type Tensor, tensor, zeros } from "../../mod.ts";
import { arrayToString, formatTensor } from "../../core/format.ts";
import { arbShape, rng } from "../helpers/gen.ts";
import { needsNumpy, numpy } from "../helpers/numpy.ts";

const SETUP = `
def S(a, **k):
    s = np.array2string(a, separator=', ', prefix='tensor(', suffix=')', **k)
    return np.frombuffer(s.encode(), dtype=np.uint8)
`;

function decodeText(values: Float64Array): string {
  return new TextDecoder().decode(Uint8Array.from(values));
}

type Kind =
  | "uniform"
  | "integral"
  | "wide"
  | "special"
  | "small"
  | "large"
  | "dyadic"
  | "tiny";

/** Values of a given flavour, before rounding to the dtype. */
function values(kind: Kind, n: number, seed: number): number[] {
  const r = rng(seed);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    const sign = r() < 0.5 ? -1 : 1;
    switch (kind) {
      case "uniform":
        out[i] = (u - 0.5) * 6;
        break;
      case "integral":
        out[i] = Math.round((u - 0.5) * 200);
        break;
      case "wide":
        out[i] = sign * 10 ** ((u - 0.5) * 24);
        break;
      case "special": {
        const pick = Math.floor(r() * 8);
        out[i] = [NaN, Infinity, -Infinity, 0, -0, sign * u * 10, sign * u, 1.5][pick];
        break;
      }
      case "small":
        out[i] = sign * u * 10 ** -(1 + Math.floor(r() * 3));
        break;
      case "large":
        out[i] = sign * (1 + u) * 10 ** (4 + Math.floor(r() * 4));
        break;
      case "dyadic":
        out[i] = sign * Math.floor(u * 4096) / 512;
        break;
      case "tiny":
        out[i] = sign * u * 1e-30;
        break;
    }
  }
  return out;
}

const FLOAT_KINDS: Kind[] = [
  "uniform",
  "integral",
  "wide",
  "special",
  "small",
  "large",
  "dyadic",
  "tiny",
];

function intValues(dtype: DType, n: number, seed: number): Tensor {
  const r = rng(seed);
  const span: Record<string, [number, number]> = {
    i8: [-128, 127],
    u8: [0, 255],
    i16: [-32768, 32767],
    u16: [0, 65535],
    i32: [-2147483648, 2147483647],
    u32: [0, 4294967295],
  };
  if (dtype === "i64") {
    const big = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      big[i] = BigInt(Math.floor((r() - 0.5) * 2 ** 52)) * BigInt(1 + Math.floor(r() * 4096));
    }
    return tensor(big);
  }
  if (dtype === "bool") return tensor(Array.from({ length: n }, () => r() < 0.5));
  const [lo, hi] = span[dtype];
  const small = r() < 0.5; // short numbers and full-range ones
  return tensor(
    Array.from({ length: n }, () => {
      const v = Math.floor(lo + r() * (hi - lo + 1));
      return small ? v % 100 : v;
    }),
    { dtype },
  );
}

interface Case {
  t: Tensor;
  what: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const shapes = fc.sample(arbShape({ maxRank: 4, maxDim: 6 }), { seed: 7, numRuns: 60 });
  const big = [[1001], [40, 30], [3, 500], [11, 11, 11], [2, 3, 200], [7, 7, 7, 7], [2000, 1]];
  let seed = 1;
  for (const dtype of ["f32", "f64", "f16"] as DType[]) {
    for (const kind of FLOAT_KINDS) {
      if (dtype === "f16" && kind === "tiny") continue;
      for (const shape of [...shapes.slice(0, 12), [], [1], [30], [5, 17]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        out.push({
          t: tensor(values(kind, n, seed++), { dtype, shape }),
          what: `${dtype} ${kind} ${JSON.stringify(shape)}`,
        });
      }
      for (const shape of big.slice(0, 3)) {
        const n = shape.reduce((a, b) => a * b, 1);
        out.push({
          t: tensor(values(kind, n, seed++), { dtype, shape }),
          what: `${dtype} ${kind} ${JSON.stringify(shape)}`,
        });
      }
    }
  }
  for (const dtype of ["i8", "u8", "i16", "u16", "i32", "u32", "i64", "bool"] as DType[]) {
    for (const shape of [...shapes.slice(12, 30), [], [40], ...big]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const t = intValues(dtype, n, seed++);
      const v = t.reshape(shape);
      t.dispose();
      out.push({ t: v, what: `${dtype} ${JSON.stringify(shape)}` });
    }
  }
  return out;
}

Deno.test({
  name: "printing matches np.array2string",
  ...needsNumpy,
  async fn(t) {
    const all = cases();
    const refs = await numpy(
      all.map(({ t }) => ({ expr: "S(a)", arrays: { a: t }, setup: SETUP })),
    );
    await t.step(`${all.length} arrays: f32/f64/f16 (8 value flavours), ints, bools`, () => {
      for (let i = 0; i < all.length; i++) {
        assert.equal(refs[i].error, undefined, refs[i].error);
        const want = decodeText(refs[i].results[0].values);
        const got = arrayToString(all[i].t, { prefix: "tensor(", suffix: ")" });
        assert.equal(got, want, all[i].what);
      }
    });
    await t.step(
      "edge cases: format thresholds in the dtype, ties, carries, subnormals",
      async () => {
        const edge: [number[], DType][] = [
          [[9.99999974738e-05, 0.0002], "f32"], // 1e-4 compared as f32 (NEP 50 weak scalar)
          [[9.99e-05, 0.0002], "f64"],
          [[999999.94, 1], "f32"],
          [[1e6, 1], "f32"], // f32 switches to scientific at 10^6
          [[99999999, 1], "f64"],
          [[1e8, 1], "f64"],
          [[999, 1], "f16"],
          [[1000, 1], "f16"], // f16 switches at 10^3
          [[1, 1000], "f32"],
          [[1, 1000.0001], "f64"], // ratio just over 1000
          [[1 / 512, 3 / 512, 5 / 1024], "f64"], // exact ties at the 8th decimal: half-even
          [[0.999999999, 0.5], "f64"], // rounding carries into the integer part
          [[9.9999999999, 99.999999999], "f64"],
          [[-0, 0, 1], "f32"],
          [[-0], "f64"],
          [[1e-45, 1e-40, 1.17549435e-38], "f32"],
          [[6e-8, 6.1e-5, 65504], "f16"],
          [[3.4028234663852886e38, -1], "f32"],
          [[5e-324, 1.7976931348623157e308], "f64"],
          [[NaN, NaN], "f32"],
          [[Infinity], "f64"],
          [[NaN, -Infinity, 0.5], "f16"],
          [[2 ** 53, 2 ** 60], "f64"],
          [[0.1, 0.2, 0.30000000000000004], "f64"],
          [[1 / 3, 2 / 3], "f32"],
        ];
        const ts = edge.map(([v, d]) => tensor(v, { dtype: d }));
        ts.push(tensor(NaN), tensor(-Infinity, { dtype: "f64" }), tensor(1e-5), tensor(-0));
        const r = await numpy(ts.map((a) => ({ expr: "S(a)", arrays: { a }, setup: SETUP })));
        ts.forEach((a, i) => {
          assert.equal(
            arrayToString(a, { prefix: "tensor(", suffix: ")" }),
            decodeText(r[i].results[0].values),
            `${a.dtype} ${JSON.stringify(edge[i]?.[0] ?? "0-d")}`,
          );
        });
      },
    );
    await t.step("strided, transposed and broadcast views print their logical values", async () => {
      const base = tensor(values("uniform", 60, 99), { shape: [3, 4, 5] });
      const views = [
        base.transpose([2, 0, 1]),
        base.slice("::2", "::-1"),
        base.slice(1).expand([2, 4, 5]),
      ];
      const big = tensor(values("wide", 40 * 60, 98), { dtype: "f64", shape: [40, 60] });
      views.push(big.T, big.slice("::-3", "1::2"));
      const r = await numpy(views.map((v) => ({ expr: "S(a)", arrays: { a: v }, setup: SETUP })));
      views.forEach((v, i) => {
        assert.equal(
          arrayToString(v, { prefix: "tensor(", suffix: ")" }),
          decodeText(r[i].results[0].values),
        );
      });
    });
    await t.step(
      "print options (precision, threshold, edgeitems, linewidth) work like numpy",
      async () => {
        const a = tensor(values("uniform", 300, 5), { dtype: "f64", shape: [20, 15] });
        const opts = [
          { precision: 3 },
          { threshold: 10, edgeitems: 2 },
          { linewidth: 40 },
          { precision: 4, threshold: 100, edgeitems: 1, linewidth: 120 },
        ];
        const r = await numpy(opts.map((o) => ({
          expr: `S(a, precision=${o.precision ?? 8}, threshold=${o.threshold ?? 1000}, ` +
            `edgeitems=${o.edgeitems ?? 3}, max_line_width=${o.linewidth ?? 75})`,
          arrays: { a },
          setup: SETUP,
        })));
        opts.forEach((o, i) => {
          assert.equal(
            arrayToString(a, { ...o, prefix: "tensor(", suffix: ")" }),
            decodeText(r[i].results[0].values),
            JSON.stringify(o),
          );
        });
      },
    );
    for (const { t } of all) t.dispose();
  },
});

Deno.test("formatTensor wraps the array text in tensor(..., dtype=...)", async (t) => {
  await t.step("a 2-d f32 tensor aligns continuation rows under the first", () => {
    assert.equal(
      String(tensor([[1, 2], [3, 4]])),
      "tensor([[1., 2.],\n        [3., 4.]], dtype=f32)",
    );
  });
  await t.step("columns share one width; nan and inf are spelled like numpy", () => {
    assert.equal(formatTensor(tensor([1, 2.5, -3.25])), "tensor([ 1.  ,  2.5 , -3.25], dtype=f32)");
    assert.equal(
      formatTensor(tensor([NaN, Infinity, -Infinity, 1.5])),
      "tensor([ nan,  inf, -inf,  1.5], dtype=f32)",
    );
  });
  await t.step("scientific notation, ints and booleans", () => {
    assert.equal(
      formatTensor(tensor([1e-5, 1, 1000])),
      "tensor([1.e-05, 1.e+00, 1.e+03], dtype=f32)",
    );
    assert.equal(formatTensor(tensor([1, -20], { dtype: "i64" })), "tensor([  1, -20], dtype=i64)");
    assert.equal(formatTensor(tensor([true, false])), "tensor([ True, False], dtype=bool)");
  });
  await t.step("0-d tensors print the bare value", () => {
    assert.equal(formatTensor(tensor(3.5)), "tensor(3.5, dtype=f32)");
    assert.equal(formatTensor(tensor(true)), "tensor(True, dtype=bool)");
    assert.equal(formatTensor(tensor(7, { dtype: "u8" })), "tensor(7, dtype=u8)");
  });
  await t.step("empty tensors show their shape unless it is (0,)", () => {
    assert.equal(formatTensor(zeros([0])), "tensor([], dtype=f32)");
    assert.equal(
      formatTensor(zeros([0, 3], { dtype: "i32" })),
      "tensor([], shape=(0, 3), dtype=i32)",
    );
  });
  await t.step("summarized tensors show their shape, like numpy 2 repr", () => {
    const a = tensor(Array.from({ length: 2000 }, (_, i) => i), { dtype: "i32" });
    assert.equal(
      formatTensor(a),
      "tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=(2000,), dtype=i32)",
    );
  });
  await t.step("the dtype moves to its own line when the last line is full", () => {
    const a = tensor(Array.from({ length: 9 }, (_, i) => i + 0.125), { dtype: "f64" });
    const s = formatTensor(a);
    assert.equal(
      s,
      "tensor([0.125, 1.125, 2.125, 3.125, 4.125, 5.125, 6.125, 7.125, 8.125],\n" +
        "       dtype=f64)",
    );
  });
  await t.step("bf16 prints the shortest digits of the bf16 value", () => {
    assert.equal(
      formatTensor(tensor([0.1, 0.2, 3], { dtype: "bf16" })),
      "tensor([0.1, 0.2, 3. ], dtype=bf16)",
    );
  });
  await t.step("disposed tensors print shape and dtype without data", () => {
    const a = zeros([2, 3]);
    a.dispose();
    assert.equal(formatTensor(a), "tensor(<disposed>, shape=(2, 3), dtype=f32)");
  });
});
