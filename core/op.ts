/**
 * The dispatcher every op goes through: checks that the operands are alive and on one device,
 * allocates the outputs the op declared, routes the call to a backend kernel, and records which
 * backend ran it.
 *
 * An op is declared once, in `core/ops/`: it validates its inputs and computes its output shapes
 * and dtypes (with typed errors), then calls {@link runKernel} by name. Backends provide kernels
 * by that name. Backward rules (issue: autograd) attach to the same op names.
 *
 * @module
 */
import type { KernelCall } from "./backend/plugin.ts";
import { recordRoute, route } from "./backend/registry.ts";
import { blockDTypeError, type DType, isBlockDType, type StorageDType } from "./dtype.ts";
import { BLOCK_KERNELS } from "./block.ts";
import { needsGrad, record } from "./autograd.ts";
import { DeviceError, DisposedError, DTypeError } from "./errors.ts";
import type { Shape } from "./shape.ts";
import type { AttrsOf, OpName } from "./ops/contracts/mod.ts";
import { Tensor } from "./tensor.ts";

/** Shape and dtype of an output the dispatcher allocates. */
export interface OutSpec {
  /** Output shape. */
  shape: Shape;
  /** Output dtype. */
  dtype: DType;
  /**
   * The op's kernels write every element of this output on every backend (elementwise ops), so
   * the dispatcher may skip zero-filling it. A kernel for such an op must honour that.
   */
  overwritten?: boolean;
}

/** The device all `inputs` share, or a DeviceError naming the op and the devices. */
export function commonDevice(op: string, inputs: readonly Tensor<StorageDType>[]): string {
  let device: string | undefined;
  for (const t of inputs) {
    if (t.disposed) {
      throw new DisposedError(
        `${op}: an input tensor (shape ${JSON.stringify(t.shape)}) was already disposed.`,
      );
    }
    if (device === undefined) device = t.device;
    else if (t.device !== device) {
      throw new DeviceError(
        `${op}: operands live on different devices (${inputs.map((x) => x.device).join(", ")}). ` +
          `Hint: move them to one device first, e.g. b.to("${device}").`,
      );
    }
  }
  return device ?? "cpu";
}

/**
 * Run a kernel by its declared op name (core/ops/contracts: a misspelt name or attributes of
 * the wrong type are compile errors). `outputs` are either specs (allocated here, contiguous, zero-filled,
 * on the inputs' device) or existing tensors to write into (e.g. a view of a larger tensor), or
 * `null` when the output shape depends on the data and the kernel allocates.
 */
export function runKernel<N extends OpName>(
  op: N,
  operands: readonly Tensor<StorageDType>[],
  attrs: AttrsOf<N>,
  outputs: readonly (OutSpec | Tensor<StorageDType>)[] | null,
  device?: string,
): Tensor[] {
  checkBlockOperands(op, operands, outputs);
  // Past the check, block operands only reach the kernels the dtype table names for them, which
  // read them by dtype.
  const inputs = operands as readonly Tensor[];
  const dev = device ?? commonDevice(op, inputs);
  const grad = needsGrad(inputs);
  if (grad && outputs?.some((o) => o instanceof Tensor)) {
    throw new DTypeError(
      `${op}: writing into an existing tensor is not differentiable, and an input requires ` +
        `gradients. Hint: run it under noGrad(), or detach() the inputs.`,
    );
  }
  if (device !== undefined && inputs.length) commonDevice(op, inputs);
  const outs = (outputs ?? []).map((o) =>
    (o instanceof Tensor ? o : Tensor.empty(o.shape, o.dtype, dev, !o.overwritten, op)) as Tensor
  );
  const call: KernelCall<AttrsOf<N>> = { op, inputs, outputs: outs, attrs };
  let r;
  try {
    r = route(call as KernelCall, dev);
    const produced = (r.run(call as KernelCall) as Tensor[] | undefined) ?? outs;
    recordRoute(op, r.backend);
    if (grad) record(op, inputs, produced, attrs);
    return produced;
  } catch (e) {
    for (let i = 0; i < outs.length; i++) {
      if (!(outputs![i] instanceof Tensor)) outs[i].dispose();
    }
    throw e;
  }
}

/**
 * A DTypeError when a block-quantized operand reaches a kernel that cannot read it: only the
 * kernels named by the dtype table's block rows (dequantize, quantize) accept them. Ops whose own
 * validation does not look at dtypes end up here, before any output is allocated.
 */
function checkBlockOperands(
  op: string,
  inputs: readonly Tensor<StorageDType>[],
  outputs: readonly (OutSpec | Tensor<StorageDType>)[] | null,
): void {
  if (BLOCK_KERNELS.has(op)) return;
  for (const t of inputs) if (isBlockDType(t.dtype)) throw blockDTypeError(op, t.dtype);
  for (const o of outputs ?? []) {
    if (o instanceof Tensor && isBlockDType(o.dtype)) throw blockDTypeError(op, o.dtype);
  }
}

/** {@link runKernel} for an op with exactly one output. */
export function runKernel1<N extends OpName>(
  op: N,
  inputs: readonly Tensor<StorageDType>[],
  attrs: AttrsOf<N>,
  output: OutSpec | Tensor<StorageDType> | null,
  device?: string,
): Tensor {
  return runKernel(op, inputs, attrs, output === null ? null : [output], device)[0];
}
