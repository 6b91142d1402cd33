/**
 * `Embedding`: a lookup table of vectors.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import type { DType } from "../core/dtype.ts";
import { IndexError } from "../core/errors.ts";
import { zeros } from "../core/ops/creation.ts";
import { copyInto, select } from "../core/ops/view.ts";
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { embedding, newParameter } from "./layer_ops.ts";
import { normal } from "./init.ts";

/** Options of {@link Embedding}. */
export interface EmbeddingOptions {
  /** This row is zero-initialized and gets no gradient (a padding token); may be negative. */
  paddingIdx?: number | null;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
  /** Random source of the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * A table of `numEmbeddings` vectors of size `embeddingDim`, indexed by integer tensors,
 * PyTorch's `nn.Embedding`: the output has shape `indices.shape + [embeddingDim]`. Weights start
 * as N(0, 1), with the `paddingIdx` row zero (and never updated by gradients).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const emb = new nn.Embedding(10, 3, { paddingIdx: 0 });
 * const y = emb.call(tensor([[1, 2], [0, 9]], { dtype: "i32" }));
 * console.log(y.shape); // [2, 2, 3]
 * ```
 */
export class Embedding extends Module {
  /** Table of shape (numEmbeddings, embeddingDim). */
  weight: Tensor;
  /** Number of rows. */
  readonly numEmbeddings: number;
  /** Vector size. */
  readonly embeddingDim: number;
  /** The padding row (normalized to be non-negative), or null. */
  readonly paddingIdx: number | null;

  /**
   * @param numEmbeddings rows of the table
   * @param embeddingDim size of each vector
   * @param options paddingIdx, dtype, generator
   */
  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    let pi = options.paddingIdx ?? null;
    if (pi !== null) {
      if (!Number.isInteger(pi) || pi >= numEmbeddings || pi < -numEmbeddings) {
        throw new IndexError(
          `Embedding: paddingIdx ${pi} is out of range for ${numEmbeddings} embeddings.`,
        );
      }
      if (pi < 0) pi += numEmbeddings;
    }
    this.paddingIdx = pi;
    this.weight = newParameter([numEmbeddings, embeddingDim], options.dtype);
    this.resetParameters(options.generator);
  }

  /** Re-draw the weights from N(0, 1) and zero the padding row. */
  resetParameters(generator?: Generator): void {
    normal(this.weight, 0, 1, { generator });
    if (this.paddingIdx !== null) {
      noGrad(() => {
        const row = select(this.weight, 0, this.paddingIdx!);
        const z = zeros([this.embeddingDim], { dtype: this.weight.dtype });
        copyInto(row, z);
        row.dispose();
        z.dispose();
      });
    }
  }

  /** Look up integer `indices` of any shape. */
  forward(indices: Tensor): Tensor {
    return embedding(
      `Embedding(${this.numEmbeddings}, ${this.embeddingDim})`,
      indices,
      this.weight,
      this.paddingIdx,
    );
  }

  /** `numEmbeddings, embeddingDim[, paddingIdx=…]` */
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}` +
      (this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : "");
  }
}
