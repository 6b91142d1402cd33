/**
 * Dynamic loss scaling for mixed-precision training (PyTorch's `torch.amp.GradScaler`): the loss
 * is multiplied by a large factor before `backward()` so that small f16 gradients do not flush
 * to zero, the gradients are divided by it again before the optimizer step, and a step whose
 * gradients hold an inf or NaN is skipped while the factor backs off.
 *
 * Same defaults, update rule and state dict as PyTorch: scale 2^16, ×2 after 2000 steps without
 * overflow, ×0.5 on an overflow. Like PyTorch's (which calls `.item()` on the overflow flag),
 * `step` reads one value back from the device per step: on the GPU that costs one readback
 * (≥ 10 ms in Deno 2.9.6, see README's GPU section), which is why `step` is async.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { keep, tidy } from "../core/memory.ts";
import { isfinite } from "../core/ops/math.ts";
import { mul } from "../core/ops/elementwise.ts";
import { all, sum } from "../core/ops/reduce.ts";
import { stack } from "../core/ops/join.ts";
import type { Tensor } from "../core/tensor.ts";
import { type Optimizer, OptimizerError } from "./optimizer.ts";

/** Options of {@link GradScaler} (PyTorch's names and defaults, in camelCase). */
export interface GradScalerOptions {
  /** Initial scale factor (default 2^16). */
  initScale?: number;
  /** Factor the scale grows by after `growthInterval` steps without overflow (default 2). */
  growthFactor?: number;
  /** Factor the scale shrinks by after an overflow (default 0.5). */
  backoffFactor?: number;
  /** Steps without overflow before the scale grows (default 2000). */
  growthInterval?: number;
  /** False makes every method a pass-through (default true). */
  enabled?: boolean;
}

/** A {@link GradScaler}'s state dict, with PyTorch's keys. */
export interface GradScalerStateDict {
  /** The current scale factor. */
  scale: number;
  /** Factor of growth. */
  growth_factor: number;
  /** Factor of backoff. */
  backoff_factor: number;
  /** Overflow-free steps between growths. */
  growth_interval: number;
  /** Overflow-free steps since the last growth or backoff. */
  _growth_tracker: number;
}

interface PerOptimizer {
  unscaled: boolean;
  stepped: boolean;
  finite: boolean;
}

/**
 * Loss scaler for f16 mixed precision (use with {@link autocast}).
 *
 * @example
 * ```ts
 * import { autocast, nn, optim, randn } from "@aprender/compute";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const scaler = new optim.GradScaler();
 * const x = randn([8, 4]), y = randn([8, 2]);
 * opt.zeroGrad();
 * let loss;
 * {
 *   using _amp = autocast({ dtype: "f16" });
 *   loss = nn.mseLoss(model.call(x), y);
 * }
 * scaler.scale(loss).backward();
 * const stepped = await scaler.step(opt); // false when the gradients overflowed
 * scaler.update();
 * console.log(stepped, scaler.getScale()); // true 65536
 * ```
 */
export class GradScaler {
  #scale: number;
  #growthFactor: number;
  #backoffFactor: number;
  #growthInterval: number;
  #tracker = 0;
  readonly #enabled: boolean;
  #per = new Map<Optimizer, PerOptimizer>();

  /** A scaler with PyTorch's defaults, or the options given (checked: OptimizerError). */
  constructor(options: GradScalerOptions = {}) {
    const {
      initScale = 2 ** 16,
      growthFactor = 2,
      backoffFactor = 0.5,
      growthInterval = 2000,
      enabled = true,
    } = options;
    const bad = (what: string, v: number, rule: string) =>
      new OptimizerError(`GradScaler: ${what} must be ${rule}, got ${v}.`);
    if (!(initScale > 0) || !Number.isFinite(initScale)) {
      throw bad("initScale", initScale, "a finite number > 0");
    }
    if (!(growthFactor > 1) || !Number.isFinite(growthFactor)) {
      throw bad("growthFactor", growthFactor, "a finite number > 1");
    }
    if (!(backoffFactor > 0 && backoffFactor < 1)) {
      throw bad("backoffFactor", backoffFactor, "in (0, 1)");
    }
    if (!Number.isInteger(growthInterval) || growthInterval < 1) {
      throw bad("growthInterval", growthInterval, "an integer ≥ 1");
    }
    this.#scale = initScale;
    this.#growthFactor = growthFactor;
    this.#backoffFactor = backoffFactor;
    this.#growthInterval = growthInterval;
    this.#enabled = enabled;
  }

  /** Whether the scaler scales (false: every method passes through). */
  isEnabled(): boolean {
    return this.#enabled;
  }

  /** The current scale factor (1 when disabled). */
  getScale(): number {
    return this.#enabled ? this.#scale : 1;
  }

  /** `loss` multiplied by the scale factor (differentiable), or `loss` itself when disabled. */
  scale(loss: Tensor): Tensor {
    if (!this.#enabled) return loss;
    return mul(loss, this.#scale);
  }

  /**
   * Divide the gradients of `optimizer`'s parameters by the scale (each `.grad` is replaced by
   * its quotient; e.g. before gradient clipping), and note whether any is inf or NaN. At most
   * once per optimizer between updates.
   */
  unscale(optimizer: Optimizer): void {
    if (!this.#enabled) return;
    const st = this.#stateOf(optimizer);
    if (st.unscaled) {
      throw new OptimizerError(
        "GradScaler.unscale: already called on this optimizer since the last update(). " +
          "Hint: call unscale() once per step, before step().",
      );
    }
    if (st.stepped) {
      throw new OptimizerError(
        "GradScaler.unscale: step() was already called on this optimizer since the last " +
          "update(). Hint: call update() after step().",
      );
    }
    st.unscaled = true;
    this.#pending.set(optimizer, this.#unscaleGrads(optimizer));
  }

  #pending = new Map<Optimizer, Tensor | null>();

  /** Unscale every gradient in place; a 0-d bool tensor "all finite" (null: no gradients). */
  #unscaleGrads(optimizer: Optimizer): Tensor | null {
    const inv = 1 / this.#scale;
    const params = optimizer.paramGroups.flatMap((g) => g.params).filter((p) => p.grad !== null);
    if (params.length === 0) return null;
    return noGrad(() =>
      tidy(() => {
        // One product and one sum per gradient: a sum is inf or NaN where any element is (or,
        // for finite gradients, only past f32's range: 3.4e38).
        const sums: Tensor[] = [];
        for (const p of params) {
          const g = mul(p.grad!, inv);
          p.grad!.dispose();
          p.grad = keep(g);
          sums.push(sum(g));
        }
        return all(isfinite(sums.length === 1 ? sums[0] : stack(sums)));
      })
    );
  }

  /**
   * Unscale the gradients (unless {@link GradScaler.unscale} did) and run `optimizer.step()`
   * unless a gradient is inf or NaN. Resolves to whether the step ran. Reads one value back from
   * the device.
   */
  async step(optimizer: Optimizer): Promise<boolean> {
    if (!this.#enabled) {
      optimizer.step();
      return true;
    }
    const st = this.#stateOf(optimizer);
    if (st.stepped) {
      throw new OptimizerError(
        "GradScaler.step: already called on this optimizer since the last update(). " +
          "Hint: call update() once per iteration, after step().",
      );
    }
    if (!st.unscaled) this.unscale(optimizer);
    const ok = this.#pending.get(optimizer) ?? null;
    this.#pending.delete(optimizer);
    let finite = true;
    if (ok) {
      try {
        finite = Boolean((await ok.data())[0]);
      } finally {
        ok.dispose();
      }
    }
    st.stepped = true;
    st.finite = finite;
    if (finite) optimizer.step();
    return finite;
  }

  /**
   * Update the scale after the iteration's steps: × backoffFactor if any step found inf/NaN
   * gradients, × growthFactor after growthInterval overflow-free iterations; or set it to
   * `newScale`.
   */
  update(newScale?: number): void {
    if (!this.#enabled) return;
    if (newScale !== undefined) {
      if (!(newScale > 0) || !Number.isFinite(newScale)) {
        throw new OptimizerError(
          `GradScaler.update: newScale must be a finite number > 0, got ${newScale}.`,
        );
      }
      this.#scale = newScale;
    } else {
      const states = [...this.#per.values()];
      if (!states.some((s) => s.stepped)) {
        throw new OptimizerError(
          "GradScaler.update: no step() since the last update(). Hint: call step(optimizer) " +
            "first.",
        );
      }
      if (states.some((s) => s.stepped && !s.finite)) {
        this.#scale *= this.#backoffFactor;
        this.#tracker = 0;
      } else if (++this.#tracker === this.#growthInterval) {
        this.#scale *= this.#growthFactor;
        this.#tracker = 0;
      }
    }
    for (const t of this.#pending.values()) t?.dispose();
    this.#pending.clear();
    this.#per.clear();
  }

  /** Scale, factors and growth tracker, with PyTorch's keys. */
  stateDict(): GradScalerStateDict {
    return {
      scale: this.#scale,
      growth_factor: this.#growthFactor,
      backoff_factor: this.#backoffFactor,
      growth_interval: this.#growthInterval,
      _growth_tracker: this.#tracker,
    };
  }

  /** Restore a {@link GradScaler.stateDict} (PyTorch's keys). */
  loadStateDict(sd: GradScalerStateDict): void {
    const keys: (keyof GradScalerStateDict)[] = [
      "scale",
      "growth_factor",
      "backoff_factor",
      "growth_interval",
      "_growth_tracker",
    ];
    for (const k of keys) {
      if (typeof sd?.[k] !== "number" || !Number.isFinite(sd[k])) {
        throw new OptimizerError(
          `GradScaler.loadStateDict: "${k}" must be a finite number, got ${
            JSON.stringify(sd?.[k])
          }.`,
        );
      }
    }
    this.#scale = sd.scale;
    this.#growthFactor = sd.growth_factor;
    this.#backoffFactor = sd.backoff_factor;
    this.#growthInterval = sd.growth_interval;
    this.#tracker = sd._growth_tracker;
  }

  #stateOf(optimizer: Optimizer): PerOptimizer {
    let st = this.#per.get(optimizer);
    if (!st) this.#per.set(optimizer, st = { unscaled: false, stepped: false, finite: true });
    return st;
  }
}
