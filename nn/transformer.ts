/**
 * `TransformerEncoderLayer` (PyTorch's `nn.TransformerEncoderLayer`): self-attention and a
 * feed-forward block, each with a residual connection and layer normalization, post-norm by
 * default or pre-norm with `normFirst`.
 *
 * @module
 */
import type { DType } from "../core/dtype.ts";
import { ShapeError } from "../core/errors.ts";
import { add, gelu, relu } from "../core/ops/elementwise.ts";
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { scoped } from "../core/dispose.ts";
import { MultiheadAttention } from "./attention.ts";
import { Dropout } from "./dropout.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";
import { LayerNorm } from "./normalization.ts";

/** Options of {@link TransformerEncoderLayer}. */
export interface TransformerEncoderLayerOptions {
  /** Hidden size of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability (attention weights, feed-forward, residuals; default 0.1). */
  dropout?: number;
  /** Activation of the feed-forward block: "relu" (default), "gelu", or a function. */
  activation?: "relu" | "gelu" | ((x: Tensor) => Tensor);
  /** Epsilon of both layer norms (default 1e-5). */
  layerNormEps?: number;
  /** Inputs are (N, S, E) instead of (S, N, E) (default false, like PyTorch). */
  batchFirst?: boolean;
  /** Pre-norm: normalize before attention and feed-forward (default false: post-norm). */
  normFirst?: boolean;
  /** Biases in the linear layers and layer norms (default true). */
  bias?: boolean;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
  /** Random source of the initial weights and the dropout masks. */
  generator?: Generator;
}

/** Options of {@link TransformerEncoderLayer.forward}. */
export interface TransformerEncoderLayerForwardOptions {
  /** Attention mask (S, S) or (N·nhead, S, S), as MultiheadAttention's `attnMask`. */
  srcMask?: Tensor | null;
  /** (N, S) padding mask, as MultiheadAttention's `keyPaddingMask`. */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention (builds the causal mask when `srcMask` is not given). */
  isCausal?: boolean;
}

/**
 * One transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer`, with the same
 * submodules and state-dict names (`self_attn.in_proj_weight`, `linear1.weight`,
 * `norm1.weight`, ...):
 *
 * - post-norm (default): `x = norm1(x + sa(x)); x = norm2(x + ff(x))`
 * - pre-norm (`normFirst`): `x = x + sa(norm1(x)); x = x + ff(norm2(x))`
 *
 * with `sa` = self-attention then dropout1, `ff` = linear2(dropout(activation(linear1(x))))
 * then dropout2.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const layer = new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true });
 * layer.eval();
 * console.log(layer.call(randn([2, 5, 16])).shape); // [2, 5, 16]
 * console.log(Object.keys(layer.stateDict()).slice(0, 3));
 * // ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight"]
 * ```
 */
export class TransformerEncoderLayer
  extends Module<[Tensor, TransformerEncoderLayerForwardOptions?], Tensor> {
  /** The self-attention. */
  declare readonly self_attn: MultiheadAttention;
  /** First feed-forward projection (dModel → dimFeedforward). */
  declare readonly linear1: Linear;
  /** Dropout inside the feed-forward block. */
  declare readonly dropout: Dropout;
  /** Second feed-forward projection (dimFeedforward → dModel). */
  declare readonly linear2: Linear;
  /** Layer norm of the attention block. */
  declare readonly norm1: LayerNorm;
  /** Layer norm of the feed-forward block. */
  declare readonly norm2: LayerNorm;
  /** Dropout after the attention. */
  declare readonly dropout1: Dropout;
  /** Dropout after the feed-forward block. */
  declare readonly dropout2: Dropout;
  /** Whether the layer norms come first (pre-norm). */
  readonly normFirst: boolean;
  /** Whether inputs are (N, S, E). */
  readonly batchFirst: boolean;
  /** The model's feature size. */
  readonly dModel: number;
  #activation: (x: Tensor) => Tensor;
  #activationName: string;

  /**
   * Create the layer (its linear layers and attention initialized as PyTorch's).
   *
   * @param dModel the model's feature size
   * @param nhead number of attention heads (must divide dModel)
   * @param options dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst,
   *   bias, dtype, generator
   */
  constructor(dModel: number, nhead: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const {
      dimFeedforward = 2048,
      dropout = 0.1,
      activation = "relu",
      layerNormEps = 1e-5,
      batchFirst = false,
      normFirst = false,
      bias = true,
      dtype,
      generator,
    } = options;
    this.dModel = dModel;
    this.normFirst = normFirst;
    this.batchFirst = batchFirst;
    if (typeof activation === "function") {
      this.#activation = activation;
      this.#activationName = activation.name || "custom";
    } else if (activation === "relu" || activation === "gelu") {
      this.#activation = activation === "relu" ? relu : (x) => gelu(x);
      this.#activationName = activation;
    } else {
      throw new ShapeError(
        `TransformerEncoderLayer: activation must be "relu", "gelu" or a function, got ` +
          `${JSON.stringify(activation)}.`,
      );
    }
    const lin = { bias, dtype, generator };
    this.registerModule(
      "self_attn",
      new MultiheadAttention(dModel, nhead, { dropout, bias, batchFirst, dtype, generator }),
    );
    this.registerModule("linear1", new Linear(dModel, dimFeedforward, lin));
    this.registerModule("dropout", new Dropout(dropout, { generator }));
    this.registerModule("linear2", new Linear(dimFeedforward, dModel, lin));
    const ln = { eps: layerNormEps, bias, dtype };
    this.registerModule("norm1", new LayerNorm(dModel, ln));
    this.registerModule("norm2", new LayerNorm(dModel, ln));
    this.registerModule("dropout1", new Dropout(dropout, { generator }));
    this.registerModule("dropout2", new Dropout(dropout, { generator }));
  }

  /**
   * Encode `src`: (S, N, E), (N, S, E) with `batchFirst`, or unbatched (S, E); the result has
   * the same shape.
   */
  forward(src: Tensor, options: TransformerEncoderLayerForwardOptions = {}): Tensor {
    return scoped((own) => {
      const sa = (x: Tensor) => {
        const [y] = this.self_attn.call(x, x, x, {
          attnMask: options.srcMask ?? null,
          keyPaddingMask: options.srcKeyPaddingMask ?? null,
          needWeights: false,
          isCausal: options.isCausal ?? false,
        });
        return own(this.dropout1.call(own(y)));
      };
      const ff = (x: Tensor) => {
        const h = own(this.#activation(own(this.linear1.call(x))));
        return own(this.dropout2.call(own(this.linear2.call(own(this.dropout.call(h))))));
      };
      if (this.normFirst) {
        const x = own(add(src, sa(own(this.norm1.call(src)))));
        return add(x, ff(own(this.norm2.call(x))));
      }
      const x = own(this.norm1.call(own(add(src, sa(src)))));
      return this.norm2.call(own(add(x, ff(x))));
    });
  }

  /** `dModel=…, activation=…, normFirst=…, batchFirst=…` */
  override extraRepr(): string {
    return `dModel=${this.dModel}, activation=${this.#activationName}, ` +
      `normFirst=${this.normFirst}, batchFirst=${this.batchFirst}`;
  }
}
