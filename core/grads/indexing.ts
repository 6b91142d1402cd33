/**
 * Backward rules of the indexing ops (recorded by the dispatcher under their kernel names):
 * `take` (also `indexSelect`), `gather`, `scatter`, `scatterAdd`, `where`, `maskedSelect`.
 * Indices, conditions and masks get no gradient; `nonzero` has an integer result, so nothing
 * flows through it.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import { gather, nonzero, scatter, scatterAdd, where } from "../ops/indexing.ts";
import { astype, reshape } from "../ops/view.ts";
import { sumToShape } from "./util.ts";

/** `g` in dtype `dtype`: `g` itself when it already is, else a converted copy (g is consumed). */
function inDType(g: Tensor, dtype: Tensor["dtype"]): Tensor {
  if (g.dtype === dtype) return g;
  const c = astype(g, dtype);
  g.dispose();
  return c;
}

/**
 * take(x, idx, axis): out = x[:a] + idx.shape + x[a+1:]. The gradient adds each output slice into
 * the slice of x it was read from (repeated indices accumulate): the gradient is viewed as
 * x[:a] + (idx.size,) + x[a+1:] and scatter-added along `a` with the index broadcast to that shape.
 */
registerGradient("take", ([g], { inputs: [x, idx], attrs }) => {
  const a = attrs.axis as number;
  const flatShape = [...x.shape.slice(0, a), idx.size, ...x.shape.slice(a + 1)];
  const gr = reshape(g!, flatShape);
  const ir = reshape(idx, flatShape.map((d, i) => (i === a ? d : 1)));
  const ib = ir.broadcastTo(flatShape);
  const z = zeros(x.shape, { dtype: g!.dtype, device: g!.device });
  const r = scatterAdd(z, a, ib, gr);
  for (const t of [gr, ir, ib, z]) t.dispose();
  return [inDType(r, x.dtype), null];
});

/** gather: each output element came from one element of x; scatter-add the gradient back. */
registerGradient("gather", ([g], { inputs: [x, idx], attrs }) => {
  const z = zeros(x.shape, { dtype: g!.dtype, device: g!.device });
  const r = scatterAdd(z, attrs.axis as number, idx, g!);
  z.dispose();
  return [inDType(r, x.dtype), null];
});

/**
 * scatter: x's gradient is g where nothing was written (zero at overwritten positions); src's is
 * g read back at the written positions (PyTorch's rule; with repeated targets every writer gets
 * the gradient, as in PyTorch).
 */
registerGradient("scatter", ([g], { inputs: [x, idx, src], attrs, needs }) => {
  const a = attrs.axis as number;
  let gx: Tensor | null = null, gs: Tensor | null = null;
  if (needs[0]) {
    const m0 = zeros(x.shape, { dtype: "bool", device: g!.device });
    const m = scatter(m0, a, idx, true);
    gx = inDType(where(m, 0, g!), x.dtype);
    m0.dispose();
    m.dispose();
  }
  if (needs[2]) gs = inDType(gather(g!, a, idx), src.dtype);
  return [gx, null, gs];
});

/** scatterAdd: x's gradient is g; src's is g read back at the positions it was added to. */
registerGradient("scatterAdd", ([g], { inputs: [x, idx, src], attrs, needs }) => [
  needs[0] ? inDType(g!.clone(), x.dtype) : null,
  null,
  needs[2] ? inDType(gather(g!, attrs.axis as number, idx), src.dtype) : null,
]);

/** where(c, a, b): g flows to a where c holds, to b elsewhere, summed to each operand's shape. */
registerGradient("where", ([g], { inputs: [c, a, b], needs }) => {
  const part = (t: Tensor, pick: (c: Tensor, g: Tensor) => Tensor) => {
    const m = pick(c, g!);
    const s = sumToShape(m, t.shape);
    m.dispose();
    return inDType(s, t.dtype);
  };
  return [
    null,
    needs[1] ? part(a, (c, g) => where(c, g, 0)) : null,
    needs[2] ? part(b, (c, g) => where(c, 0, g)) : null,
  ];
});

/**
 * maskedSelect (the kernel sees x and the mask broadcast to one shape): the i-th output element
 * came from the i-th true position of the mask in C order, so g is scattered back there.
 */
registerGradient("maskedSelect", ([g], { inputs: [x, m] }) => {
  const mf = reshape(m, [m.size]);
  const nz = nonzero(mf);
  const pos = reshape(nz, [nz.size]);
  const z = zeros([x.size], { dtype: g!.dtype, device: g!.device });
  const s = scatter(z, 0, pos, g!);
  const r = reshape(s, x.shape);
  for (const t of [mf, nz, pos, z, s]) t.dispose();
  return [inDType(r, x.dtype), null];
});
