/**
 * Attention: `scaledDotProductAttention` (PyTorch's `F.scaled_dot_product_attention`) and
 * `MultiheadAttention` (PyTorch's `nn.MultiheadAttention`, same parameter names and layout, so
 * state dicts load both ways).
 *
 * Both are composed of core ops (matmul, softmax, where, reshapes), so autograd differentiates
 * them and every backend runs them.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import type { DType } from "../core/dtype.ts";
import { isFloat } from "../core/dtype.ts";
import { DTypeError, fmtShape, ShapeError } from "../core/errors.ts";
import { arange } from "../core/ops/creation.ts";
import { add, logicalNot, mul } from "../core/ops/elementwise.ts";
import { where } from "../core/ops/indexing.ts";
import { matmul } from "../core/ops/matmul.ts";
import { all, mean, softmax } from "../core/ops/reduce.ts";
import { permute, reshape, swapaxes } from "../core/ops/view.ts";
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { scoped } from "../core/dispose.ts";
import { dropout as dropoutOp, linear, newParameter } from "./layer_ops.ts";
import { constant, xavierUniform } from "./init.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

type Own = <U extends Tensor>(t: U) => U;

/** A boolean "blocked" mask as an additive float mask: -inf where true, 0 elsewhere. */
function additive(mask: Tensor, dtype: DType, own: Own): Tensor {
  return noGrad(() => own(own(where(mask, -Infinity, 0)).astype(dtype)));
}

/** The causal mask (L, S): true above the diagonal (key j after query i), i.e. blocked. */
function causalBlocked(L: number, S: number, device: string, own: Own): Tensor {
  return noGrad(() => {
    const i = own(own(arange(L, undefined, 1, { dtype: "i32", device })).reshape([L, 1]));
    const j = own(arange(S, undefined, 1, { dtype: "i32", device }));
    return own(j.gt(i));
  });
}

/**
 * Attention core on (N, H, L, hd) queries, (N, H, S, hd) keys and values with an additive mask
 * broadcastable to (N, H, L, S): softmax(q·scale·kᵀ + mask)·v. Returns the output and the
 * attention weights (after dropout, as PyTorch returns them). With `safe`, a row whose scores
 * are all -inf gets zero weights instead of NaN (PyTorch's `_safe_softmax`, used by its
 * scaled_dot_product_attention).
 */
function attend(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  scale: number,
  dropoutP: number,
  training: boolean,
  generator: Generator | undefined,
  label: string,
  own: Own,
  safe: boolean,
): { out: Tensor; weights: Tensor } {
  const qs = own(mul(q, scale));
  let scores = own(matmul(qs, own(swapaxes(k, -1, -2))));
  if (mask) scores = own(add(scores, mask));
  let dead: Tensor | null = null;
  if (safe && mask) {
    // rows without any finite score: softmax them as zeros so no NaN reaches the gradients
    dead = noGrad(() => own(all(own(scores.eq(-Infinity)), -1, true)));
    scores = own(where(dead, 0, scores));
  }
  let w = own(softmax(scores, -1));
  if (dead) w = own(where(dead, 0, w));
  if (training && dropoutP > 0) w = own(dropoutOp(label, w, dropoutP, true, generator));
  return { out: own(matmul(w, v)), weights: w };
}

// ---- scaled dot-product attention -------------------------------------------------------------

/** Options of {@link scaledDotProductAttention}. */
export interface ScaledDotProductAttentionOptions {
  /**
   * A mask broadcastable to (..., L, S): boolean, where **true means the position takes part**
   * (PyTorch's SDPA convention, the opposite of MultiheadAttention's), or float, added to the
   * scores.
   */
  attnMask?: Tensor | null;
  /** Dropout probability on the attention weights (default 0; applied whenever > 0). */
  dropoutP?: number;
  /** Apply a causal mask (query i attends to keys 0..i); not together with `attnMask`. */
  isCausal?: boolean;
  /** The scale of the scores (default 1/√E). */
  scale?: number | null;
  /** Random source of the dropout mask. */
  generator?: Generator;
}

/**
 * `softmax(Q·Kᵀ·scale + mask)·V` over the last two axes, PyTorch's
 * `F.scaled_dot_product_attention`: query (..., L, E), key (..., S, E), value (..., S, Ev), batch
 * axes broadcast; the result has shape (..., L, Ev). A query whose keys are all masked attends
 * to nothing (zeros, PyTorch's `_safe_softmax`) rather than giving NaN.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const q = randn([2, 4, 8]), k = randn([2, 6, 8]), v = randn([2, 6, 3]);
 * console.log(nn.scaledDotProductAttention(q, k, v).shape); // [2, 4, 3]
 * ```
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: ScaledDotProductAttentionOptions = {},
): Tensor {
  const label = "scaledDotProductAttention";
  if (query.ndim < 2 || key.ndim < 2 || value.ndim < 2) {
    throw new ShapeError(
      `${label}: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)} and value ` +
        `${fmtShape(value.shape)} need at least 2 axes: (..., L, E), (..., S, E), (..., S, Ev).`,
    );
  }
  const E = query.shape[query.ndim - 1], L = query.shape[query.ndim - 2];
  const S = key.shape[key.ndim - 2];
  if (key.shape[key.ndim - 1] !== E || value.shape[value.ndim - 2] !== S) {
    throw new ShapeError(
      `${label}: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)} and value ` +
        `${fmtShape(value.shape)} do not fit: expected (..., L, E), (..., S, E), (..., S, Ev).`,
    );
  }
  const { attnMask = null, dropoutP = 0, isCausal = false, generator } = options;
  if (isCausal && attnMask) {
    throw new ShapeError(`${label}: pass either attnMask or isCausal, not both.`);
  }
  const scale = options.scale ?? 1 / Math.sqrt(E);
  return scoped((own) => {
    let mask: Tensor | null = null;
    if (isCausal) mask = additive(causalBlocked(L, S, query.device, own), query.dtype, own);
    else if (attnMask) {
      if (attnMask.dtype === "bool") {
        mask = additive(own(logicalNot(attnMask)), query.dtype, own);
      } else if (isFloat(attnMask.dtype)) {
        mask = attnMask.dtype === query.dtype ? attnMask : own(attnMask.astype(query.dtype));
      } else {
        throw new DTypeError(
          `${label}: attnMask must be bool or float, got ${attnMask.dtype}.`,
        );
      }
    }
    const { out } = attend(
      query,
      key,
      value,
      mask,
      scale,
      dropoutP,
      true,
      generator,
      label,
      own,
      true,
    );
    return out;
  });
}

// ---- multi-head attention ---------------------------------------------------------------------

/** Options of {@link MultiheadAttention}. */
export interface MultiheadAttentionOptions {
  /** Dropout probability on the attention weights in training mode (default 0). */
  dropout?: number;
  /** Learn biases of the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and outputs are (N, L, E) instead of (L, N, E) (default false, like PyTorch). */
  batchFirst?: boolean;
  /** Features of the keys (default embedDim). */
  kdim?: number;
  /** Features of the values (default embedDim). */
  vdim?: number;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
  /** Random source of the initial weights and of the dropout masks. */
  generator?: Generator;
}

/** Options of {@link MultiheadAttention.forward}. */
export interface MultiheadAttentionForwardOptions {
  /**
   * (N, S) (or (S) unbatched): boolean, true = that key is padding and is ignored; or float,
   * added to the scores of that key.
   */
  keyPaddingMask?: Tensor | null;
  /**
   * (L, S) or (N·numHeads, L, S): boolean, true = that query may not attend to that key; or
   * float, added to the scores.
   */
  attnMask?: Tensor | null;
  /**
   * Return the attention weights (default true). As in PyTorch, a query whose keys are all
   * masked gets NaN with weights (plain softmax) and zero attention without them (PyTorch's
   * scaled-dot-product path).
   */
  needWeights?: boolean;
  /** Average the returned weights over the heads (default true): (N, L, S), else (N, H, L, S). */
  averageAttnWeights?: boolean;
  /**
   * Causal attention: with `attnMask` a hint that it is causal (as PyTorch); without one, the
   * causal mask is built here (PyTorch raises instead).
   */
  isCausal?: boolean;
}

/**
 * Multi-head attention, PyTorch's `nn.MultiheadAttention`: the query, key and value are
 * projected (`in_proj_weight`/`in_proj_bias`, or `q_proj_weight`, `k_proj_weight`,
 * `v_proj_weight` when `kdim`/`vdim` differ from `embedDim`), split into `numHeads` heads,
 * attend with `softmax(q·kᵀ/√headDim + masks)`, and are joined and projected by `out_proj`.
 * Inputs are (L, N, E) (or (N, L, E) with `batchFirst`, or unbatched (L, E)); `forward`
 * returns `[output, weights]`, the weights null unless `needWeights`.
 *
 * Parameter names, shapes and initialization equal PyTorch's (xavier-uniform projections, zero
 * biases), so a PyTorch state dict loads by name.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const mha = new nn.MultiheadAttention(16, 4, { batchFirst: true });
 * const x = randn([2, 5, 16]);
 * const [y, w] = mha.call(x, x, x);
 * console.log(y.shape, w!.shape); // [2, 5, 16] [2, 5, 5]
 * console.log(Object.keys(mha.stateDict()));
 * // ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
 * ```
 */
export class MultiheadAttention extends Module<
  [Tensor, Tensor, Tensor, MultiheadAttentionForwardOptions?],
  [Tensor, Tensor | null]
> {
  /** The model's feature size E. */
  readonly embedDim: number;
  /** Number of heads H (E = H·headDim). */
  readonly numHeads: number;
  /** Features per head, E / H. */
  readonly headDim: number;
  /** Features of the keys. */
  readonly kdim: number;
  /** Features of the values. */
  readonly vdim: number;
  /** Dropout probability on the attention weights (training mode). */
  readonly dropout: number;
  /** Whether inputs are (N, L, E). */
  readonly batchFirst: boolean;
  /** Combined (3E, E) query/key/value projection (null when kdim or vdim differ from E). */
  declare readonly in_proj_weight: Tensor | null;
  /** Query projection (E, E) when kdim or vdim differ from E, else null. */
  declare readonly q_proj_weight: Tensor | null;
  /** Key projection (E, kdim) when kdim or vdim differ from E, else null. */
  declare readonly k_proj_weight: Tensor | null;
  /** Value projection (E, vdim) when kdim or vdim differ from E, else null. */
  declare readonly v_proj_weight: Tensor | null;
  /** Combined (3E) projection bias, or null without bias. */
  declare readonly in_proj_bias: Tensor | null;
  /** The output projection (E → E). */
  declare readonly out_proj: Linear;
  #generator?: Generator;

  /**
   * Create the layer with PyTorch's initialization.
   *
   * @param embedDim the model's feature size E
   * @param numHeads number of heads (must divide E)
   * @param options dropout, bias, batchFirst, kdim, vdim, dtype, generator
   */
  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    if (
      !(Number.isInteger(embedDim) && embedDim > 0 && Number.isInteger(numHeads) && numHeads > 0) ||
      embedDim % numHeads !== 0
    ) {
      throw new ShapeError(
        `MultiheadAttention: embedDim (${embedDim}) must be a positive multiple of numHeads ` +
          `(${numHeads}).`,
      );
    }
    const { bias = true, batchFirst = false, dtype, generator } = options;
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.kdim = options.kdim ?? embedDim;
    this.vdim = options.vdim ?? embedDim;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) {
      throw new ShapeError(
        `MultiheadAttention: dropout probability must be in [0, 1], got ${this.dropout}.`,
      );
    }
    this.batchFirst = batchFirst;
    this.#generator = generator;
    const E = embedDim;
    if (this.kdim === E && this.vdim === E) {
      this.registerParameter("in_proj_weight", newParameter([3 * E, E], dtype));
    } else {
      this.registerParameter("q_proj_weight", newParameter([E, E], dtype));
      this.registerParameter("k_proj_weight", newParameter([E, this.kdim], dtype));
      this.registerParameter("v_proj_weight", newParameter([E, this.vdim], dtype));
    }
    this.registerParameter("in_proj_bias", bias ? newParameter([3 * E], dtype) : null);
    this.registerModule("out_proj", new Linear(E, E, { bias, dtype, generator }));
    this.resetParameters(generator);
  }

  /**
   * Re-draw the initial weights like PyTorch's `_reset_parameters`: xavier-uniform projections,
   * zero biases (the output projection's weight keeps Linear's initialization).
   */
  resetParameters(generator?: Generator): void {
    for (
      const w of [this.in_proj_weight, this.q_proj_weight, this.k_proj_weight, this.v_proj_weight]
    ) {
      if (w) xavierUniform(w, { generator });
    }
    if (this.in_proj_bias) constant(this.in_proj_bias, 0);
    if (this.out_proj.bias) constant(this.out_proj.bias, 0);
  }

  #label(): string {
    return `MultiheadAttention(embedDim=${this.embedDim}, numHeads=${this.numHeads})`;
  }

  /**
   * Attend from `query` to `key`/`value`: (L, N, E), (S, N, kdim), (S, N, vdim) (batch first:
   * (N, L, E), ...; unbatched: (L, E), (S, kdim), (S, vdim)). Returns `[output, weights]`:
   * output like the query, weights (N, L, S) (averaged) or (N, H, L, S), or null.
   */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    const label = this.#label();
    const { needWeights = true, averageAttnWeights = true, isCausal = false } = options;
    const batched = query.ndim === 3;
    this.#checkInputs(label, query, key, value, batched);
    const E = this.embedDim, H = this.numHeads, hd = this.headDim;
    let weightsOut: Tensor | null = null;
    const out = scoped((own) => {
      // to batch-first (N, L, E)
      const toNLE = (t: Tensor) =>
        batched ? (this.batchFirst ? t : own(swapaxes(t, 0, 1))) : own(t.unsqueeze(0));
      const q0 = toNLE(query), k0 = toNLE(key), v0 = toNLE(value);
      const [N, L] = q0.shape, S = k0.shape[1];
      const masks = this.#masks(label, options, N, L, S, batched, query, isCausal, own);
      // projections
      let wq: Tensor, wk: Tensor, wv: Tensor;
      if (this.in_proj_weight) {
        [wq, wk, wv] = this.in_proj_weight.split(3, 0).map(own);
      } else [wq, wk, wv] = [this.q_proj_weight!, this.k_proj_weight!, this.v_proj_weight!];
      const [bq, bk, bv] = this.in_proj_bias
        ? this.in_proj_bias.split(3, 0).map(own)
        : [null, null, null];
      const heads = (x: Tensor, w: Tensor, b: Tensor | null, len: number) => {
        const p = own(linear(label, x, w, b));
        return own(permute(own(reshape(p, [N, len, H, hd])), [0, 2, 1, 3]));
      };
      const q = heads(q0, wq, bq, L), k = heads(k0, wk, bk, S), v = heads(v0, wv, bv, S);
      const { out: o, weights } = attend(
        q,
        k,
        v,
        masks,
        Math.sqrt(1 / hd),
        this.dropout,
        this.training,
        this.#generator,
        label,
        own,
        !needWeights,
      );
      // (N, H, L, hd) → (N, L, E) → out_proj
      const joined = own(reshape(own(permute(o, [0, 2, 1, 3])), [N, L, E]));
      const y = this.out_proj.call(joined);
      if (needWeights) {
        let w = averageAttnWeights ? mean(weights, 1) : weights.clone();
        if (!batched) w = reshape(own(w), w.shape.slice(1));
        weightsOut = w;
      }
      if (batched && this.batchFirst) return y;
      own(y);
      return batched ? swapaxes(y, 0, 1) : reshape(y, [L, E]);
    });
    return [out, weightsOut];
  }

  #checkInputs(label: string, q: Tensor, k: Tensor, v: Tensor, batched: boolean): void {
    const rank = batched ? 3 : 2;
    const want = (n: string, d: number) =>
      batched ? (this.batchFirst ? `(N, ${n}, ${d})` : `(${n}, N, ${d})`) : `(${n}, ${d})`;
    const expected = `expected query ${want("L", this.embedDim)}, key ${want("S", this.kdim)}, ` +
      `value ${want("S", this.vdim)}`;
    const got = `got query ${fmtShape(q.shape)}, key ${fmtShape(k.shape)}, value ` +
      `${fmtShape(v.shape)}`;
    if (q.ndim !== 2 && q.ndim !== 3) {
      throw new ShapeError(`${label}: query must be 2-D (unbatched) or 3-D; ${got}; ${expected}.`);
    }
    const last = (t: Tensor) => t.shape[t.ndim - 1];
    const b = batched ? (this.batchFirst ? 0 : 1) : -1;
    const s = batched ? (this.batchFirst ? 1 : 0) : 0;
    const ok = k.ndim === rank && v.ndim === rank && last(q) === this.embedDim &&
      last(k) === this.kdim && last(v) === this.vdim && k.shape[s] === v.shape[s] &&
      (b < 0 || (k.shape[b] === q.shape[b] && v.shape[b] === q.shape[b]));
    if (!ok) throw new ShapeError(`${label}: inputs do not fit: ${got}; ${expected}.`);
    for (const [n, t] of [["query", q], ["key", k], ["value", v]] as const) {
      if (!isFloat(t.dtype)) {
        throw new DTypeError(`${label}: ${n} must be float, got ${t.dtype}.`);
      }
    }
  }

  /** The combined additive mask, broadcastable to (N, H, L, S), or null. */
  #masks(
    label: string,
    options: MultiheadAttentionForwardOptions,
    N: number,
    L: number,
    S: number,
    batched: boolean,
    query: Tensor,
    isCausal: boolean,
    own: Own,
  ): Tensor | null {
    const H = this.numHeads, dtype = query.dtype;
    const asAdditive = (m: Tensor, name: string) => {
      if (m.dtype === "bool") return additive(m, dtype, own);
      if (!isFloat(m.dtype)) {
        throw new DTypeError(
          `${label}: ${name} must be bool (true = masked) or float (added to the scores), ` +
            `got ${m.dtype}.`,
        );
      }
      return m.dtype === dtype ? m : own(m.astype(dtype));
    };
    let mask: Tensor | null = null;
    const attnMask = options.attnMask ?? null;
    if (attnMask) {
      const okShape = (attnMask.ndim === 2 && attnMask.shape[0] === L && attnMask.shape[1] === S) ||
        (attnMask.ndim === 3 && attnMask.shape[0] === N * H && attnMask.shape[1] === L &&
          attnMask.shape[2] === S);
      if (!okShape) {
        throw new ShapeError(
          `${label}: attnMask of shape ${fmtShape(attnMask.shape)} does not fit query length ` +
            `${L} and key length ${S}; expected (L, S) = ${fmtShape([L, S])} or ` +
            `(N·numHeads, L, S) = ${fmtShape([N * H, L, S])}.`,
        );
      }
      const m = asAdditive(attnMask, "attnMask");
      mask = m.ndim === 3 ? own(reshape(m, [N, H, L, S])) : m;
    } else if (isCausal) {
      mask = additive(causalBlocked(L, S, query.device, own), dtype, own);
    }
    const kpm = options.keyPaddingMask ?? null;
    if (kpm) {
      const want = batched ? [N, S] : [S];
      if (kpm.ndim !== want.length || kpm.shape.some((d, i) => d !== want[i])) {
        throw new ShapeError(
          `${label}: keyPaddingMask of shape ${fmtShape(kpm.shape)} does not fit; expected ` +
            `${batched ? "(N, S)" : "(S)"} = ${fmtShape(want)}.`,
        );
      }
      const m = own(reshape(asAdditive(kpm, "keyPaddingMask"), [batched ? N : 1, 1, 1, S]));
      mask = mask ? own(add(mask, m)) : m;
    }
    return mask;
  }

  /** `embedDim=…, numHeads=…, batchFirst=…` */
  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, ` +
      `batchFirst=${this.batchFirst}`;
  }
}
