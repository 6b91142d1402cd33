/**
 * Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's semantics, defaults
 * and update formulas (`torch.optim`, `torch.optim.lr_scheduler`, `torch.nn.utils.clip_grad_*`).
 *
 * Gradient accumulation: `backward()` adds into `.grad`, so run `backward()` on several
 * micro-batches (dividing each loss by their number) before one `step()`, then `zeroGrad()`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([2, -3]).requireGrad();
 * const opt = new optim.Adam([w], { lr: 0.1 });
 * const sched = new optim.StepLR(opt, { stepSize: 50, gamma: 0.5 });
 * for (let i = 0; i < 200; i++) {
 *   opt.zeroGrad();
 *   w.square().sum().backward();
 *   optim.clipGradNorm([w], 1).dispose();
 *   opt.step();
 *   sched.step();
 * }
 * console.log(w.abs().max().item() < 0.05); // true
 * ```
 *
 * @module
 */
import "../backends/runtime.ts";
export * from "./optimizer.ts";
export * from "./sgd.ts";
export * from "./adam.ts";
export * from "./rmsprop.ts";
export * from "./adagrad.ts";
export * from "./lr_scheduler.ts";
export * from "./lr_decay.ts";
export * from "./lr_one_cycle.ts";
export * from "./lr_sequential.ts";
export * from "./lr_plateau.ts";
export * from "./clip.ts";
export * from "./grad_scaler.ts";
