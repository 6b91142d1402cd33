// PLACEHOLDER: replaced by the NumPy-style printer.
import type { Tensor } from "./tensor.ts";
export function formatTensor(t: Tensor): string {
  return `tensor(shape=${JSON.stringify(t.shape)}, dtype=${t.dtype})`;
}
