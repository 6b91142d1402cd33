/**
 * Backward rules of the matmul family.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { matmul } from "../ops/linalg.ts";
import { swapaxes } from "../ops/view.ts";
import { sumToShape } from "./util.ts";

/**
 * The matmul kernel sees operands of rank ≥ 2 with broadcast batch axes already expanded
 * (1-D operands were given an axis by the op, recorded as views): dA = dC·Bᵀ, dB = Aᵀ·dC, each
 * summed back to its operand's shape.
 */
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
