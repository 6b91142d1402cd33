/**
 * Running one plugin's kernel directly (not through the registry), for backend-equivalence tests
 * of plugins that share an op, such as the WASM and OpenBLAS conv kernels.
 */
import assert from "node:assert/strict";
import {
  type Backend,
  backends,
  type DType,
  type KernelEntry,
  type KernelFn,
  openblasBackend,
  Tensor,
  wasmBackend,
} from "../../mod.ts";

/** Run `backend`'s kernel `op` (asserting that it accepts the call) into a fresh output. */
export function runOn(
  backend: Backend,
  op: string,
  inputs: Tensor[],
  shape: readonly number[],
  dtype: DType,
  attrs: Record<string, unknown> = {},
): Tensor {
  const out = Tensor.empty(shape, dtype);
  const k = backend.kernels[op] as KernelFn | KernelEntry;
  const call = { op, inputs, outputs: [out], attrs };
  if (typeof k === "function") k(call);
  else {
    assert.ok(!k.supports || k.supports(call), `${backend.name} ${op} declined the call`);
    k.run(call);
  }
  return out;
}

/** Whether the OpenBLAS plugin is available (required under CI=true). */
export function blasAvailable(): boolean {
  const ok = backends().find((b) => b.name === "openblas")?.status === "available";
  if (!ok && Deno.env.get("CI") === "true") {
    throw new Error("CI=true but the OpenBLAS plugin is absent: its kernels cannot be tested.");
  }
  return ok;
}

/** The CPU plugins with f32 conv2d kernels on heap tensors: WASM, and OpenBLAS where present. */
export function convBackends(): Backend[] {
  return blasAvailable() ? [wasmBackend, openblasBackend] : [wasmBackend];
}
