/**
 * Backward rules of elementwise ops. Binary rules sum the gradient back over broadcast axes
 * (`sumToShape`); every intermediate is disposed.
 *
 * @module
 */
import { type GradContext, registerGradient } from "../autograd.ts";
import type { Tensor } from "../tensor.ts";
import { div, mul, neg, sign } from "../ops/elementwise.ts";
import { sumToShape } from "./util.ts";

/** Run `f`, then dispose the temporaries it lists. */
function freeing<T>(tmp: Tensor[], value: T): T {
  for (const t of tmp) t.dispose();
  return value;
}

/** A binary rule from the two partial products dL/da = g·da, dL/db = g·db (full shape). */
function binary(
  name: string,
  partials: (g: Tensor, ctx: GradContext) => [Tensor | null, Tensor | null],
): void {
  registerGradient(name, ([g], ctx) => {
    const [ga, gb] = partials(g!, ctx);
    const [a, b] = ctx.inputs;
    return [
      ga ? freeing([ga], sumToShape(ga, a.shape)) : null,
      gb ? freeing([gb], sumToShape(gb, b.shape)) : null,
    ];
  });
}

binary("add", (g, { needs }) => [needs[0] ? g.clone() : null, needs[1] ? g.clone() : null]);
binary("sub", (g, { needs }) => [needs[0] ? g.clone() : null, needs[1] ? neg(g) : null]);
binary("mul", (g, { inputs: [a, b], needs }) => [
  needs[0] ? mul(g, b) : null,
  needs[1] ? mul(g, a) : null,
]);
binary("div", (g, { inputs: [, b], outputs: [y], needs }) => {
  const ga = needs[0] ? div(g, b) : null;
  let gb: Tensor | null = null;
  if (needs[1]) {
    // d(a/b)/db = -a/b² = -y/b
    const q = div(y, b), m = mul(g, q);
    gb = freeing([q, m], neg(m));
  }
  return [ga, gb];
});

registerGradient("neg", ([g]) => [neg(g!)]);
registerGradient("square", ([g], { inputs: [x] }) => {
  const t = mul(x, 2);
  return freeing([t], [mul(g!, t)]);
});
registerGradient("abs", ([g], { inputs: [x] }) => {
  const s = sign(x);
  return freeing([s], [mul(g!, s)]);
});
registerGradient("exp", ([g], { outputs: [y] }) => [mul(g!, y)]);
registerGradient("log", ([g], { inputs: [x] }) => [div(g!, x)]);
