/**
 * Backward rules of the matmul family: `matmul` (recorded by the dispatcher; `dot` and `outer`
 * are matmul between views) and `einsum` (recorded at op level by core/ops/matmul.ts).
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import { einsum, matmul } from "../ops/matmul.ts";
import { sum } from "../ops/reduce.ts";
import { astype, copyInto, reshape, swapaxes } from "../ops/view.ts";
import { sumToShape } from "./util.ts";

/**
 * The matmul kernel sees operands of rank ≥ 2 with broadcast batch axes already expanded
 * (1-D operands were given an axis by the op, recorded as views): dA = dC·Bᵀ, dB = Aᵀ·dC, each
 * summed back to its operand's shape.
 */
/** linear (x (M, in), W (out, in), b): x̄ = ḡ·W, W̄ = ḡᵀ·x (already (out, in)), b̄ = Σ_M ḡ. */
registerGradient("linear", ([g], { inputs: [x, w, b], needs }) => {
  let gw: Tensor | null = null;
  if (needs[1]) {
    const gt = g!.T;
    gw = matmul(gt, x);
    gt.dispose();
  }
  return [needs[0] ? matmul(g!, w) : null, gw, b && needs[2] ? sum(g!, [0]) : null];
});

registerGradient("matmul", ([g], { inputs: [a, b], needs }) => {
  const out: (ReturnType<typeof matmul> | null)[] = [null, null];
  if (needs[0]) {
    const bt = swapaxes(b, -1, -2), p = matmul(g!, bt);
    out[0] = sumToShape(p, a.shape);
    bt.dispose();
    p.dispose();
  }
  if (needs[1]) {
    const at = swapaxes(a, -1, -2), p = matmul(at, g!);
    out[1] = sumToShape(p, b.shape);
    at.dispose();
    p.dispose();
  }
  return out;
});

/**
 * einsum, with `labels[i]` the labels of operand i's axes (ellipsis axes named "0", "1", ...) and
 * `outLabels` the output's. The gradient of operand i is the einsum of the output gradient with
 * the other operands onto i's distinct labels. Labels that only operand i has (summed away) get
 * the gradient broadcast; axes where i has length 1 against a longer label are summed by that
 * einsum; a label repeated in i (a diagonal) gets the gradient written onto that diagonal of zeros.
 */
registerGradient("einsum", ([g], { inputs, attrs, needs }) => {
  const labels = attrs.labels as string[][];
  const outLabels = attrs.outLabels as string[];
  const size = new Map<string, number>();
  labels.forEach((ls, i) =>
    ls.forEach((l, ax) => size.set(l, Math.max(size.get(l) ?? 1, inputs[i].shape[ax])))
  );
  // One letter per label for the subscripts (ellipsis labels get unused letters).
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const free = [...letters].filter((c) => !size.has(c));
  const letter = new Map<string, string>();
  for (const l of size.keys()) letter.set(l, /^[a-zA-Z]$/.test(l) ? l : free.shift()!);
  const sub = (ls: readonly string[]) => ls.map((l) => letter.get(l)!).join("");
  return inputs.map((x, i) => {
    if (!needs[i]) return null;
    const mine = labels[i];
    const uniq = [...new Set(mine)];
    const dim = (l: string) => x.shape[mine.indexOf(l)];
    const elsewhere = (l: string) =>
      outLabels.includes(l) || labels.some((ls, k) => k !== i && ls.includes(l));
    const kept = uniq.filter((l) => elsewhere(l) && dim(l) === size.get(l));
    const others = inputs.filter((_, k) => k !== i);
    const spec = [sub(outLabels), ...labels.filter((_, k) => k !== i).map(sub)].join(",") +
      "->" + sub(kept);
    const r = einsum(spec, g!, ...others);
    // A kept label may come out with length 1 where the others broadcast it: broadcast it back.
    const rs = reshape(r, uniq.map((l) => (kept.includes(l) ? r.shape[kept.indexOf(l)] : 1)));
    const uShape = uniq.map(dim);
    const b = rs.broadcastTo(uShape);
    r.dispose();
    rs.dispose();
    let out: Tensor;
    if (uniq.length === mine.length) out = astype(b, x.dtype);
    else {
      out = zeros(x.shape, { dtype: x.dtype, device: x.device });
      const cs = out.strides;
      const diag = out._view(
        uShape,
        uniq.map((l) => mine.reduce((s, m, ax) => (m === l ? s + cs[ax] : s), 0)),
        out.offset,
      );
      copyInto(diag, b);
      diag.dispose();
    }
    b.dispose();
    return out;
  });
});
