import assert from "node:assert/strict";
import { createHostProvider } from "../../core/backend/host.ts";
import {
  type Backend,
  backends,
  DeviceError,
  type KernelCall,
  ready,
  registerBackend,
  scalarBackend,
  type Tensor,
  tensor,
  traceKernels,
  unregisterBackend,
} from "../../mod.ts";
import {
  BLOCK_OPS,
  type HostStorage,
  isOpName,
  type OpKernelTable,
  type OpName,
  OPS,
  route,
  runKernel1,
} from "../../internal.ts";

Deno.test("registry routes per op to the best plugin and falls back for the rest", async (t) => {
  const calls: string[] = [];
  // Where mul and i32 add run without the spy (the best built-in plugin present).
  const f32 = tensor([1, 2]), i32 = tensor([1, 2], { dtype: "i32" });
  const mulHome = traceKernels(() => f32.mul(f32)).trace[0].backend;
  const addI32Home = traceKernels(() => i32.add(i32)).trace[0].backend;
  const addHome = traceKernels(() => f32.add(f32)).trace[0].backend;
  // A user plugin that implements one kernel (add), only for f32, by delegating the arithmetic to
  // its own loop: it must be picked for f32 add, and skipped for everything else.
  const spy: Backend = {
    name: "spy",
    device: "cpu",
    probe: () => ({ available: true, features: ["add-f32"] }),
    kernels: {
      add: {
        supports: (call: KernelCall) => call.inputs.every((x) => x.dtype === "f32"),
        run: (call: KernelCall) => {
          calls.push(call.op);
          const [a, b] = call.inputs.map((x) =>
            (x as Tensor).broadcastTo(call.outputs[0].shape).dataSync()
          );
          const out = new Float32Array(a.length);
          for (let i = 0; i < out.length; i++) out[i] = (a[i] as number) + (b[i] as number);
          const dst = call.outputs[0].storage as HostStorage;
          new Float32Array(dst.buffer, dst.byteOffset, out.length).set(out);
        },
      },
    },
  };
  registerBackend(spy, { priority: 100 });
  try {
    await t.step("the plugin is listed as available with its probe's features", () => {
      const s = backends().find((b) => b.name === "spy");
      assert.equal(s?.status, "available");
      assert.deepEqual(s?.capabilities?.features, ["add-f32"]);
      assert.equal(backends()[0].name, "spy"); // highest priority first
    });
    await t.step("f32 add runs on the plugin, with a correct result", () => {
      const a = tensor([1, 2, 3]), b = tensor([10, 20, 30]);
      const { result, trace } = traceKernels(() => a.add(b));
      assert.deepEqual(trace, [{ op: "add", backend: "spy" }]);
      assert.deepEqual(result.toArraySync(), [11, 22, 33]);
      assert.deepEqual(calls, ["add"]);
    });
    await t.step("ops the plugin lacks fall back to the next plugin", () => {
      const a = tensor([1, 2, 3]);
      const { result, trace } = traceKernels(() => a.mul(a));
      assert.deepEqual(trace, [{ op: "mul", backend: mulHome }]);
      assert.deepEqual(result.toArraySync(), [1, 4, 9]);
    });
    await t.step("calls the plugin declines (i32) fall back to the next plugin", () => {
      const a = tensor([1, 2], { dtype: "i32" });
      const { result, trace } = traceKernels(() => a.add(a));
      assert.deepEqual(trace, [{ op: "add", backend: addI32Home }]);
      assert.deepEqual(result.toArraySync(), [2, 4]);
    });
  } finally {
    unregisterBackend("spy");
  }
  await t.step("after unregistering, add runs where it ran before", () => {
    const a = tensor([1, 2]);
    assert.deepEqual(traceKernels(() => a.add(a)).trace, [{ op: "add", backend: addHome }]);
    assert.equal(backends().some((b) => b.name === "spy"), false);
  });
});

Deno.test("plugins that cannot run are absent with the reason, never an error", async (t) => {
  await t.step("probe reporting unavailable", () => {
    registerBackend({
      name: "nolib",
      device: "cpu",
      probe: () => ({ available: false, reason: "libfoo.so not found" }),
      kernels: { add: () => assert.fail("must not run") },
    });
    const s = backends().find((b) => b.name === "nolib");
    assert.equal(s?.status, "absent");
    assert.equal(s?.reason, "libfoo.so not found");
    assert.deepEqual(tensor([1]).add(1).toArraySync(), [2]);
    unregisterBackend("nolib");
  });
  await t.step("probe throwing", () => {
    registerBackend({
      name: "throws",
      device: "cpu",
      probe: () => {
        throw new Error("no --allow-ffi");
      },
      kernels: {},
    });
    const s = backends().find((b) => b.name === "throws");
    assert.equal(s?.status, "absent");
    assert.match(s!.reason!, /no --allow-ffi/);
    unregisterBackend("throws");
  });
  await t.step("async probe is pending until ready()", async () => {
    registerBackend({
      name: "slow",
      device: "cpu",
      probe: () =>
        new Promise((r) => setTimeout(() => r({ available: false, reason: "no adapter" }), 10)),
      kernels: {},
    });
    assert.equal(backends().find((b) => b.name === "slow")?.status, "pending");
    const list = await ready();
    assert.equal(list.find((b) => b.name === "slow")?.reason, "no adapter");
    unregisterBackend("slow");
  });
});

Deno.test("ops on a device no plugin provides give a DeviceError with a hint", () => {
  assert.throws(() => tensor([1], { device: "tpu" }), (e: Error) => {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /tpu/);
    assert.match(e.message, /backends\(\)/);
    return true;
  });
});

Deno.test("the scalar backend has a kernel for every declared op, and nothing else", () => {
  // The compile-time guarantee is ScalarKernelTable (a missing row fails `deno check`); this
  // checks the table the plugin actually registers, at run time.
  const names = Object.keys(scalarBackend.kernels).sort();
  const declared = Object.keys(OPS).filter((n) => !(n in BLOCK_OPS)).sort();
  assert.ok(declared.length > 100, `only ${declared.length} ops declared`);
  assert.deepEqual(names.filter((n) => !isOpName(n)), [], "scalar kernels for undeclared ops");
  assert.deepEqual(declared.filter((n) => !names.includes(n)), [], "declared ops without a kernel");
  for (const n of names) {
    const k = scalarBackend.kernels[n as OpName];
    assert.equal(typeof k, "function", `scalar ${n} is not a runner`);
  }
});

Deno.test("op names and attributes are checked against the declarations at compile time", () => {
  // Each @ts-expect-error below fails `deno test`'s type check if the line ever compiles.
  const x = tensor([1, 2]);
  // Never called: the calls are here for the type checker only.
  const misuse = () => [
    // @ts-expect-error: a misspelt op name
    runKernel1("ad", [x, x], {}, { shape: [2], dtype: "f32" }),
    // @ts-expect-error: wrong attributes (softmax takes { axis: number })
    runKernel1("softmax", [x], { axes: [0] }, { shape: [2], dtype: "f32" }),
  ];
  // At run time an undeclared name still finds no kernel.
  assert.throws(
    () => runKernel1("ad" as OpName, [x, x], {}, { shape: [2], dtype: "f32" }),
    DeviceError,
  );
  // @ts-expect-error: a kernel table entry under an undeclared name
  const table: OpKernelTable = { nge: () => {} };
  // @ts-expect-error: a kernel whose call takes other attributes than the declared ones
  const wrong: OpKernelTable = { softmax: (_c: KernelCall<{ axis: string }>) => {} };
  // A declared name with its declared attributes compiles and runs.
  const y = runKernel1("sum", [x], { axes: [0] }, { shape: [], dtype: x.dtype });
  assert.deepEqual(y.toArraySync(), 3);
  assert.ok(table && wrong && misuse);
  for (const t of [x, y]) t.dispose();
});

Deno.test("operands on different devices give a DeviceError naming the op and devices", () => {
  // A second device backed by host memory, so the test needs no GPU.
  registerBackend({
    name: "otherdev",
    device: "other",
    probe: () => ({ available: true }),
    kernels: {},
    provider: createHostProvider("other"),
  });
  try {
    const a = tensor([1, 2]);
    const b = tensor([1, 2], { device: "other" });
    assert.equal(b.device, "other");
    assert.throws(() => a.add(b), (e: Error) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, /add: operands live on different devices \(cpu, other\)/);
      assert.match(e.message, /\.to\(/);
      return true;
    });
    assert.throws(() => b.add(b), (e: Error) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, /add: no backend on device "other"/);
      return true;
    });
  } finally {
    unregisterBackend("otherdev");
  }
});

Deno.test("planning kernels: plan declines with null, the probe's kernels count, runners are reused", async (t) => {
  const plans: string[] = [];
  let runs = 0;
  // sub of f32 operands, planned once per call: the plan remembers the element count in its
  // runner's closure (a layout fact), never in a module global.
  const planner: Backend = {
    name: "planner",
    device: "cpu",
    // The kernels come from the probe (as WebGPU builds them for its device); none are static.
    probe: () => ({
      available: true,
      kernels: {
        sub: {
          plan(call: KernelCall) {
            plans.push(call.inputs.map((x) => x.dtype).join(","));
            const [a, b] = call.inputs, [out] = call.outputs;
            if (a.dtype !== "f32" || b.dtype !== "f32" || !a.isContiguous || !b.isContiguous) {
              return null;
            }
            if (a.size !== out.size || b.size !== out.size) return null; // no broadcasting
            const n = out.size;
            return (c: KernelCall) => {
              runs++;
              const view = (x: (typeof c.inputs)[number]) => {
                const st = x.storage as HostStorage;
                return new Float32Array(st.buffer, st.byteOffset + 4 * x.offset, n);
              };
              const [x, y] = c.inputs.map(view), o = view(c.outputs[0]);
              for (let i = 0; i < n; i++) o[i] = x[i] - y[i];
            };
          },
        },
      },
    }),
    kernels: {},
  };
  registerBackend(planner, { priority: 100 });
  try {
    await ready();
    await t.step("the probe's kernels are the plugin's kernels", () => {
      assert.equal(backends().find((b) => b.name === "planner")?.kernels, 1);
    });
    await t.step("a planned call runs on the plugin", () => {
      const a = tensor([5, 7, 9]), b = tensor([1, 2, 3]);
      const { result, trace } = traceKernels(() => a.sub(b));
      assert.deepEqual(trace, [{ op: "sub", backend: "planner" }]);
      assert.deepEqual(result.toArraySync(), [4, 5, 6]);
      assert.deepEqual(plans, ["f32,f32"]);
    });
    await t.step("a declined plan (i32, broadcasting) falls back to the next plugin", () => {
      const i = tensor([5, 7], { dtype: "i32" });
      assert.notEqual(traceKernels(() => i.sub(i)).trace[0].backend, "planner");
      const a = tensor([[1, 2], [3, 4]]), row = tensor([1, 1]);
      const { result, trace } = traceKernels(() => a.sub(row));
      assert.notEqual(trace[0].backend, "planner");
      assert.deepEqual(result.toArraySync(), [[0, 1], [2, 3]]);
    });
    await t.step("a route's runner runs another call of the same layout", () => {
      const a = tensor([5, 7, 9]), b = tensor([1, 2, 3]);
      const o1 = tensor([0, 0, 0]), o2 = tensor([0, 0, 0]);
      const r = route({ op: "sub", inputs: [a, b], outputs: [o1], attrs: {} }, "cpu");
      assert.equal(r.backend, "planner");
      const before = runs;
      r.run({ op: "sub", inputs: [b, a], outputs: [o2], attrs: {} });
      assert.equal(runs, before + 1);
      assert.deepEqual(o2.toArraySync(), [-4, -5, -6]);
      assert.deepEqual(o1.toArraySync(), [0, 0, 0]); // planning ran nothing
    });
  } finally {
    unregisterBackend("planner");
  }
});
