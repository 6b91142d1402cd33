/**
 * Weight initialization (PyTorch's `torch.nn.init`): the same formulas and defaults, filling a
 * tensor in place (without recording gradients) and returning it. Random draws come from the
 * global generator of `core/random.ts` (reseed it with `seed(n)`) or from `options.generator`.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { ShapeError } from "../core/errors.ts";
import { full } from "../core/ops/creation.ts";
import { add, mul } from "../core/ops/elementwise.ts";
import { copyInto } from "../core/ops/view.ts";
import { type Generator, rand, randn } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { DTypeError } from "../core/errors.ts";

/** Nonlinearities known to {@link calculateGain} (PyTorch's names, camelCase). */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "convTranspose1d"
  | "convTranspose2d"
  | "convTranspose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leakyRelu"
  | "selu";

/** Which fan scales the variance: `fanIn` keeps forward activations, `fanOut` backward grads. */
export type FanMode = "fanIn" | "fanOut";

/** The random source of an initializer. */
export interface InitOptions {
  /** Draw from this generator instead of the global stream. */
  generator?: Generator;
}

/** Options of {@link kaimingUniform} and {@link kaimingNormal}. */
export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  /** "fanIn" (default) or "fanOut". */
  mode?: FanMode;
  /** The nonlinearity that follows (default "leakyRelu", with slope `a`). */
  nonlinearity?: Nonlinearity;
}

/** Options of {@link xavierUniform} and {@link xavierNormal}. */
export interface XavierOptions extends InitOptions {
  /** Scale factor (default 1). */
  gain?: number;
}

/**
 * The recommended gain for a nonlinearity (PyTorch's `calculate_gain`): 1 for linear/conv/
 * sigmoid, 5/3 for tanh, √2 for relu, √(2 / (1 + slope²)) for leakyRelu (slope `param`,
 * default 0.01), 3/4 for selu.
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * console.log(nn.init.calculateGain("relu")); // 1.4142135623730951
 * ```
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number | null): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "convTranspose1d":
    case "convTranspose2d":
    case "convTranspose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new DTypeError(
        `calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)}; expected one ` +
          `of linear, conv1d, conv2d, sigmoid, tanh, relu, leakyRelu, selu.`,
      );
  }
}

/**
 * Fan-in and fan-out of a weight (PyTorch's `_calculate_fan_in_and_fan_out`): for shape
 * `(out, in, *kernel)`, fanIn = in·∏kernel and fanOut = out·∏kernel. Needs at least 2 axes.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * console.log(nn.init.calculateFans(zeros([16, 3, 5, 5]))); // { fanIn: 75, fanOut: 400 }
 * ```
 */
export function calculateFans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) {
    throw new ShapeError(
      `calculateFans: fan in and fan out need a tensor with at least 2 axes, got shape ` +
        `${JSON.stringify(t.shape)}.`,
    );
  }
  const rf = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * rf, fanOut: t.shape[0] * rf };
}

function checkFloat(op: string, t: Tensor): void {
  if (!["f32", "f64", "f16", "bf16"].includes(t.dtype)) {
    throw new DTypeError(`${op}: can only fill a float tensor, got ${t.dtype}.`);
  }
}

/** Overwrite `t` with `src` (no gradient), dispose `src`, return `t`. */
function fill(t: Tensor, src: Tensor): Tensor {
  try {
    noGrad(() => copyInto(t, src));
  } finally {
    src.dispose();
  }
  return t;
}

function draw(kind: "rand" | "randn", t: Tensor, options: InitOptions): Tensor {
  const o = { dtype: t.dtype === "f64" ? "f64" as const : "f32" as const, device: t.device };
  if (options.generator) return options.generator[kind](t.shape, o);
  return kind === "rand" ? rand(t.shape, o) : randn(t.shape, o);
}

/**
 * Fill with values from U(a, b) (default U(0, 1)).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const w = nn.init.uniform(zeros([1000]), -0.5, 0.5);
 * console.log((w.max().item() as number) < 0.5); // true
 * ```
 */
export function uniform(t: Tensor, a = 0, b = 1, options: InitOptions = {}): Tensor {
  checkFloat("uniform", t);
  const u = draw("rand", t, options);
  const s = noGrad(() => mul(u, b - a));
  u.dispose();
  const r = noGrad(() => add(s, a));
  s.dispose();
  return fill(t, r);
}

/**
 * Fill with values from N(mean, std²) (default N(0, 1)).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const w = nn.init.normal(zeros([2, 3]), 0, 0.02);
 * console.log(w.shape); // [2, 3]
 * ```
 */
export function normal(t: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  checkFloat("normal", t);
  const z = draw("randn", t, options);
  const s = noGrad(() => mul(z, std));
  z.dispose();
  const r = noGrad(() => add(s, mean));
  s.dispose();
  return fill(t, r);
}

/**
 * Fill with a constant.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * console.log(nn.init.constant(zeros([3]), 0.5).toArraySync()); // [0.5, 0.5, 0.5]
 * ```
 */
export function constant(t: Tensor, value: number): Tensor {
  return fill(t, full(t.shape, value, { dtype: t.dtype, device: t.device }));
}

/**
 * Fill with zeros.
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * console.log(nn.init.zeros(ones([2])).toArraySync()); // [0, 0]
 * ```
 */
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

/**
 * Fill with ones.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * console.log(nn.init.ones(zeros([2])).toArraySync()); // [1, 1]
 * ```
 */
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

function kaimingStd(op: string, t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = calculateFans(t);
  const mode = o.mode ?? "fanIn";
  if (mode !== "fanIn" && mode !== "fanOut") {
    throw new DTypeError(`${op}: mode must be "fanIn" or "fanOut", got ${JSON.stringify(mode)}.`);
  }
  const fan = mode === "fanIn" ? fanIn : fanOut;
  if (fan === 0) {
    throw new ShapeError(
      `${op}: cannot initialize a tensor of shape ${JSON.stringify(t.shape)} (its fan is 0).`,
    );
  }
  return calculateGain(o.nonlinearity ?? "leakyRelu", o.a ?? 0) / Math.sqrt(fan);
}

/**
 * He/Kaiming uniform init: U(-bound, bound) with bound = gain·√(3 / fan) (defaults: a = 0,
 * mode "fanIn", nonlinearity "leakyRelu"). `Linear` and `Conv*` use it with a = √5.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const w = nn.init.kaimingUniform(zeros([256, 784]), { nonlinearity: "relu" });
 * console.log((w.abs().max().item() as number) <= Math.sqrt(6 / 784)); // true
 * ```
 */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd("kaimingUniform", t, options);
  return uniform(t, -bound, bound, options);
}

/**
 * He/Kaiming normal init: N(0, std²) with std = gain / √fan (defaults as {@link kaimingUniform}).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const w = nn.init.kaimingNormal(zeros([64, 3, 3, 3]), { mode: "fanOut", nonlinearity: "relu" });
 * console.log(w.shape); // [64, 3, 3, 3]
 * ```
 */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd("kaimingNormal", t, options), options);
}

function xavierStd(t: Tensor, o: XavierOptions): number {
  const { fanIn, fanOut } = calculateFans(t);
  return (o.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
}

/**
 * Glorot/Xavier uniform init: U(-a, a) with a = gain·√(6 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const w = nn.init.xavierUniform(zeros([10, 20]));
 * console.log((w.abs().max().item() as number) <= Math.sqrt(6 / 30)); // true
 * ```
 */
export function xavierUniform(t: Tensor, options: XavierOptions = {}): Tensor {
  const a = Math.sqrt(3) * xavierStd(t, options);
  return uniform(t, -a, a, options);
}

/**
 * Glorot/Xavier normal init: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const w = nn.init.xavierNormal(zeros([10, 20]), { gain: nn.init.calculateGain("tanh") });
 * console.log(w.shape); // [10, 20]
 * ```
 */
export function xavierNormal(t: Tensor, options: XavierOptions = {}): Tensor {
  return normal(t, 0, xavierStd(t, options), options);
}
