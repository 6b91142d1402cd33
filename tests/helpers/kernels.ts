/**
 * Running one plugin's kernel directly (not through the registry), for backend-equivalence tests
 * of plugins that share an op, such as the WASM and OpenBLAS conv kernels.
 */
import assert from "node:assert/strict";
import {
  type Backend,
  backends,
  type DType,
  type KernelCall,
  openblasBackend,
  type Runner,
  Tensor,
  wasmBackend,
} from "../../mod.ts";
import { planned } from "../../internal.ts";

/**
 * The runner `backend`'s kernel `op` plans for `call`, or null when it declines (a plain kernel
 * takes every call).
 */
export function planOf(backend: Backend, op: string, call: KernelCall): Runner | null {
  const k = planned(backend.kernels)[op];
  assert.ok(k, `${backend.name} has no kernel ${op}`);
  return typeof k === "function" ? k : k.plan(call);
}

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
  const call = { op, inputs, outputs: [out], attrs };
  const run = planOf(backend, op, call);
  assert.ok(run, `${backend.name} ${op} declined the call`);
  run(call);
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
