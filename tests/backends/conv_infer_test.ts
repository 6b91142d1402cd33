/**
 * The one-image conv2d paths (inference shapes): OpenBLAS' in-place GEMM over the bias and its
 * 1×1 route that reads the input planes directly (backends/openblas/conv.ts), and im2col's
 * stride-2 SIMD rows (backends/cpu/src/conv.c, a CNN stem's 5×5 stride 2) on the WASM and
 * OpenBLAS kernels, against the scalar backend and PyTorch: widths around the 4-output vector
 * and its row-end guard, asymmetric pads, groups, bias or none, row-strided and transposed inputs
 * (the latter not read in place). |ours − ref| ≤ 1e-5 · (taps + 1).
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { conv2d, scalarBackend, type Tensor, tensor } from "../../mod.ts";
import { type Layout, makeTensor } from "../helpers/gen.ts";
import { convBackends, runOn } from "../helpers/kernels.ts";

interface Case {
  n: number;
  c: number;
  o: number;
  g: number;
  h: number;
  w: number;
  k: number;
  s: number;
  /** [top, bottom, left, right]. */
  pad: [number, number, number, number];
  bias: boolean;
  layout: Layout;
}

function close(ours: Tensor, ref: Tensor, tol: number, what: string) {
  assert.deepEqual(ours.shape, ref.shape, what);
  const a = ours.dataSync() as Float32Array, b = ref.dataSync() as Float32Array;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what} [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function check(c: Case, seed: number) {
  const x = makeTensor([c.n, c.c, c.h, c.w], "f32", seed, c.layout, { lo: -1, hi: 1 });
  const w = makeTensor([c.o, c.c / c.g, c.k, c.k], "f32", seed + 1, "contiguous", {
    lo: -1,
    hi: 1,
  });
  const b = c.bias ? makeTensor([c.o], "f32", seed + 2, "contiguous") : undefined;
  const ins = b ? [x, w, b] : [x, w];
  const oh = Math.floor((c.h + c.pad[0] + c.pad[1] - c.k) / c.s) + 1;
  const ow = Math.floor((c.w + c.pad[2] + c.pad[3] - c.k) / c.s) + 1;
  const attrs = {
    stride: [c.s, c.s],
    padding: c.pad,
    dilation: [1, 1],
    groups: c.g,
    hasBias: !!b,
  };
  const shape = [c.n, c.o, oh, ow];
  const ref = runOn(scalarBackend, "conv2d", ins, shape, "f32", attrs);
  for (const backend of convBackends()) {
    const ours = runOn(backend, "conv2d", ins, shape, "f32", attrs);
    close(ours, ref, 1e-5 * ((c.c / c.g) * c.k * c.k + 1), `${backend.name} ${JSON.stringify(c)}`);
    ours.dispose();
  }
  for (const t of [x, w, b, ref]) t?.dispose();
}

Deno.test("one-image conv2d (1×1 in place, 5×5 stride 2) equals the scalar backend", () => {
  let seed = 1;
  // 1×1, stride 1, no padding: the planes read in place (contiguous, row-strided) or through
  // im2col (transposed); groups 1 and 2; one and two images.
  for (const layout of ["contiguous", "strided", "transposed"] as Layout[]) {
    for (const [n, g, bias] of [[1, 1, true], [1, 2, false], [2, 1, true]] as const) {
      check({ n, c: 6, o: 10, g, h: 7, w: 9, k: 1, s: 1, pad: [0, 0, 0, 0], bias, layout }, seed++);
    }
  }
  // 1×1 with stride or padding: through im2col.
  check({
    n: 1,
    c: 4,
    o: 5,
    g: 1,
    h: 8,
    w: 8,
    k: 1,
    s: 2,
    pad: [0, 0, 0, 0],
    bias: true,
    layout: "contiguous",
  }, seed++);
  check({
    n: 1,
    c: 4,
    o: 5,
    g: 1,
    h: 6,
    w: 5,
    k: 1,
    s: 1,
    pad: [1, 0, 0, 1],
    bias: false,
    layout: "contiguous",
  }, seed++);
  // 5×5 stride 2 (the stem): widths around the vector of 4 outputs and its row-end guard.
  for (const w of [5, 8, 9, 12, 13, 16, 17, 20, 21, 37]) {
    for (
      const pad of [[2, 2, 2, 2], [1, 2, 1, 2], [0, 0, 0, 0]] as [number, number, number, number][]
    ) {
      if (w + pad[2] + pad[3] < 5) continue;
      check({
        n: 1,
        c: 3,
        o: 4,
        g: 1,
        h: 9,
        w,
        k: 5,
        s: 2,
        pad,
        bias: w % 2 === 1,
        layout: "contiguous",
      }, seed++);
    }
  }
  for (const layout of ["strided", "transposed"] as Layout[]) {
    check({
      n: 2,
      c: 3,
      o: 4,
      g: 1,
      h: 11,
      w: 23,
      k: 5,
      s: 2,
      pad: [2, 2, 2, 2],
      bias: true,
      layout,
    }, seed++);
    check({
      n: 1,
      c: 3,
      o: 4,
      g: 1,
      h: 11,
      w: 23,
      k: 3,
      s: 2,
      pad: [1, 1, 1, 1],
      bias: true,
      layout,
    }, seed++);
  }
});

Deno.test("stem and 1×1 convs through conv2d equal PyTorch (BlazeFace-like layers)", async () => {
  const py = Deno.env.get("APRENDER_PYTHON");
  if (!py) throw new Error("set APRENDER_PYTHON to the reference venv's python");
  const cases = [
    { c: 3, o: 24, h: 64, w: 64, k: 5, s: 2, p: 2 },
    { c: 24, o: 28, h: 32, w: 32, k: 1, s: 1, p: 0 },
    { c: 96, o: 96, h: 8, w: 8, k: 1, s: 1, p: 0 },
  ];
  const dir = await Deno.makeTempDir();
  try {
    const ours: Tensor[] = [];
    for (const [i, c] of cases.entries()) {
      const x = makeTensor([1, c.c, c.h, c.w], "f32", 90 + i, "contiguous", { lo: -1, hi: 1 });
      const w = makeTensor([c.o, c.c, c.k, c.k], "f32", 95 + i, "contiguous", { lo: -1, hi: 1 });
      const b = makeTensor([c.o], "f32", 99 + i, "contiguous");
      ours.push(conv2d(x, w, { stride: c.s, padding: c.p, bias: b }));
      for (const [k, t] of Object.entries({ x, w, b })) {
        await Deno.writeFile(
          `${dir}/${k}${i}.bin`,
          new Uint8Array((t.dataSync() as Float32Array).buffer),
        );
        t.dispose();
      }
    }
    // One interpreter for all cases (importing torch takes seconds).
    const script = `
import json, sys, numpy as np, torch
d, cases = sys.argv[1], json.loads(sys.argv[2])
for i, c in enumerate(cases):
    f = lambda k, *s: torch.from_numpy(np.fromfile(f"{d}/{k}{i}.bin", dtype=np.float32).reshape(*s))
    x, w, b = f("x", 1, c["c"], c["h"], c["w"]), f("w", c["o"], c["c"], c["k"], c["k"]), f("b", c["o"])
    y = torch.nn.functional.conv2d(x, w, b, stride=c["s"], padding=c["p"])
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
      close(ours[i], ref, 1e-5 * (c.c * c.k * c.k + 1), `PyTorch ${JSON.stringify(c)}`);
      ours[i].dispose();
      ref.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
