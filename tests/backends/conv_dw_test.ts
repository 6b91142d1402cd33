/**
 * The WASM depthwise conv2d kernel's 3×3 paths (backends/cpu/src/conv_dw.c: the zero-padded
 * rings of 4 and 2 output rows per pass at stride 1 and of one row at stride 2, and dw3_plane,
 * outputs in registers, border columns one by one) against the scalar backend and
 * PyTorch: widths around the 4- and 8-output blocks, asymmetric padding (BlazeFace's stride-2
 * blocks pad only the end), channel multiplier 2, row-strided and transposed inputs, and NaN /
 * infinity next to the padding (a padded tap is skipped, never multiplied by zero).
 * |ours − ref| ≤ 1e-5 · (taps + 1) (f32 sums vs the scalar backend's f64).
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { conv2d, scalarBackend, type Tensor, tensor, wasmBackend } from "../../mod.ts";
import { type Layout, makeTensor } from "../helpers/gen.ts";
import { runOn } from "../helpers/kernels.ts";

interface Case {
  n: number;
  c: number;
  mult: number;
  h: number;
  w: number;
  s: number;
  /** [top, bottom, left, right]. */
  pad: [number, number, number, number];
  bias: boolean;
  layout: Layout;
}

function outShape(c: Case): number[] {
  const oh = Math.floor((c.h + c.pad[0] + c.pad[1] - 3) / c.s) + 1;
  const ow = Math.floor((c.w + c.pad[2] + c.pad[3] - 3) / c.s) + 1;
  return [c.n, c.c * c.mult, oh, ow];
}

function close(ours: Tensor, ref: Tensor, tol: number, what: string) {
  assert.deepEqual(ours.shape, ref.shape, what);
  const a = ours.dataSync() as Float32Array, b = ref.dataSync() as Float32Array;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i])) assert.ok(Number.isNaN(a[i]), `${what} [${i}]: ${a[i]}, want NaN`);
    else if (!Number.isFinite(b[i])) assert.equal(a[i], b[i], `${what} [${i}]`);
    else assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what} [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function run(
  c: Case,
  seed: number,
  poke?: (x: Float32Array, c: Case) => void,
  pokeW?: (w: Float32Array) => void,
) {
  let x = makeTensor([c.n, c.c, c.h, c.w], "f32", seed, c.layout, { lo: -1, hi: 1 });
  if (poke) {
    const d = x.dataSync() as Float32Array;
    x.dispose();
    poke(d, c);
    x = tensor(d, { dtype: "f32", shape: [c.n, c.c, c.h, c.w] });
  }
  let w = makeTensor([c.c * c.mult, 1, 3, 3], "f32", seed + 1, "contiguous", { lo: -1, hi: 1 });
  if (pokeW) {
    const d = w.dataSync() as Float32Array;
    w.dispose();
    pokeW(d);
    w = tensor(d, { dtype: "f32", shape: [c.c * c.mult, 1, 3, 3] });
  }
  const b = c.bias ? makeTensor([c.c * c.mult], "f32", seed + 2, "contiguous") : undefined;
  const ins = b ? [x, w, b] : [x, w];
  const attrs = {
    stride: [c.s, c.s],
    padding: c.pad,
    dilation: [1, 1],
    groups: c.c,
    hasBias: !!b,
  };
  const ours = runOn(wasmBackend, "conv2d", ins, outShape(c), "f32", attrs);
  const ref = runOn(scalarBackend, "conv2d", ins, outShape(c), "f32", attrs);
  close(ours, ref, 1e-5 * 10, JSON.stringify(c));
  for (const t of [x, w, b, ours, ref]) t?.dispose();
}

Deno.test("wasm depthwise 3×3 equals the scalar backend: strides, widths, asymmetric pads", () => {
  let seed = 1;
  const pads: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [0, 1, 0, 1],
    [0, 0, 0, 0],
    [1, 2, 1, 2],
    [2, 0, 0, 2],
  ];
  for (const s of [1, 2]) {
    for (const w of [3, 4, 5, 8, 9, 12, 13, 17, 33]) {
      for (const pad of pads) {
        if (w + pad[2] + pad[3] < 3) continue;
        run(
          { n: 1, c: 3, mult: 1, h: 7, w, s, pad, bias: (w + s) % 2 === 0, layout: "contiguous" },
          seed++,
        );
      }
    }
  }
  // Rows wider than the kernel's stack rings: 4-row ring (≤ 512 padded columns) → 2-row ring
  // (≤ 1024, stride 1) → the in-place row path; odd heights leave a partial pass.
  for (const s of [1, 2]) {
    for (const pad of [[1, 1, 1, 1], [0, 1, 0, 1]] as [number, number, number, number][]) {
      for (const [h, w] of [[5, 603], [4, 1031]]) {
        run({ n: 1, c: 2, mult: 1, h, w, s, pad, bias: true, layout: "contiguous" }, seed++);
      }
    }
  }
  // Two images, multiplier 2, a row-strided input (the fast path) and a transposed one (not).
  for (const layout of ["strided", "transposed"] as Layout[]) {
    for (const s of [1, 2]) {
      run({ n: 2, c: 4, mult: 2, h: 9, w: 21, s, pad: [0, 1, 0, 1], bias: true, layout }, seed++);
    }
  }
});

Deno.test("wasm depthwise 3×3: NaN and infinity at the borders stay where the reference puts them", () => {
  // An infinite weight: its padded taps are skipped, not 0·∞ (the ring of padded rows is not used).
  for (const s of [1, 2]) {
    run(
      { n: 1, c: 2, mult: 1, h: 6, w: 13, s, pad: [1, 1, 1, 1], bias: false, layout: "contiguous" },
      60 + s,
      undefined,
      (w) => (w[0] = Infinity),
    );
  }
  for (const s of [1, 2]) {
    run(
      { n: 1, c: 2, mult: 1, h: 8, w: 19, s, pad: [1, 1, 1, 1], bias: true, layout: "contiguous" },
      50 + s,
      (x, c) => {
        x[0] = NaN; // corner
        x[c.w - 1] = Infinity; // end of the first row
        x[c.h * c.w + 5 * c.w] = -Infinity; // start of a row of the second channel
        x[2 * c.w + 9] = NaN; // inside
      },
    );
  }
});

Deno.test("depthwise 3×3 through conv2d equals PyTorch (BlazeFace-like layers)", async () => {
  const py = Deno.env.get("APRENDER_PYTHON");
  if (!py) throw new Error("set APRENDER_PYTHON to the reference venv's python");
  const cases = [
    { c: 24, h: 32, w: 32, s: 1, p: 1 },
    { c: 28, h: 32, w: 32, s: 2, p: 1 },
    { c: 16, h: 9, w: 9, s: 2, p: 0 },
  ];
  const dir = await Deno.makeTempDir();
  try {
    const ours: Tensor[] = [];
    for (const [i, c] of cases.entries()) {
      const x = makeTensor([1, c.c, c.h, c.w], "f32", 90 + i, "contiguous", { lo: -1, hi: 1 });
      const w = makeTensor([c.c, 1, 3, 3], "f32", 95 + i, "contiguous", { lo: -1, hi: 1 });
      const b = makeTensor([c.c], "f32", 99 + i, "contiguous");
      ours.push(conv2d(x, w, { stride: c.s, padding: c.p, groups: c.c, bias: b }));
      for (const [k, t] of Object.entries({ x, w, b })) {
        const bytes = new Uint8Array((t.dataSync() as Float32Array).buffer);
        await Deno.writeFile(`${dir}/${k}${i}.bin`, bytes);
        t.dispose();
      }
    }
    // One interpreter for all cases (importing torch takes seconds).
    const script = `
import json, sys, numpy as np, torch
d, cases = sys.argv[1], json.loads(sys.argv[2])
for i, c in enumerate(cases):
    f = lambda k, *s: torch.from_numpy(np.fromfile(f"{d}/{k}{i}.bin", dtype=np.float32).reshape(*s))
    x, w, b = f("x", 1, c["c"], c["h"], c["w"]), f("w", c["c"], 1, 3, 3), f("b", c["c"])
    y = torch.nn.functional.conv2d(x, w, b, stride=c["s"], padding=c["p"], groups=c["c"])
    y.numpy().astype(np.float32).tofile(f"{d}/y{i}.bin")
    print(*y.shape)`;
    const out = await new Deno.Command(py, {
      args: ["-c", script, dir, JSON.stringify(cases)],
      stdout: "piped",
    }).output();
    assert.ok(out.success, "PyTorch failed");
    const shapes = new TextDecoder().decode(out.stdout).trim().split("\n");
    for (const [i, c] of cases.entries()) {
      const ref = tensor(new Float32Array((await Deno.readFile(`${dir}/y${i}.bin`)).buffer), {
        dtype: "f32",
        shape: shapes[i].split(" ").map(Number),
      });
      close(ours[i], ref, 1e-5 * 10, `PyTorch ${JSON.stringify(c)}`);
      ours[i].dispose();
      ref.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
