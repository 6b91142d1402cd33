/**
 * Disposing a computation's intermediates by hand: `scoped` runs a function that registers its
 * intermediates with `own` and disposes them once the result exists; `disposeAll` disposes a
 * list. Ops and composed functions (losses, layers, linalg) use these instead of `tidy()`, which
 * would also free the views that an autograd graph saves and needs after the call.
 *
 * @module
 */
import type { Releasable } from "./memory.ts";

/**
 * Registers an intermediate to be disposed when its `scoped` call ends, and returns it. With
 * `source`, `t` is registered only when it is not `source` itself: `own(asTensor(x), x)` owns the
 * tensor made from a number or array, never a caller's tensor passed through.
 */
export type Own = <T extends Releasable>(t: T, source?: unknown) => T;

/**
 * Dispose every item of `items` (nulls skipped) that is not in `except`.
 *
 * @example
 * ```ts ignore
 * import { tensor } from "@aprender/compute";
 * import { disposeAll } from "./dispose.ts";
 * const a = tensor([1]), b = tensor([2]);
 * disposeAll([a, b], [b]); // a is disposed, b is not
 * ```
 */
export function disposeAll(
  items: Iterable<Releasable | null | undefined>,
  except: readonly unknown[] = [],
): void {
  for (const t of items) if (t && !except.includes(t)) t.dispose();
}

/**
 * Run `fn` with an `own` function that registers intermediates; when `fn` returns or throws,
 * every registered one is disposed except the result itself and, for an array or plain object
 * result, its elements or values.
 *
 * @example
 * ```ts ignore
 * import { tensor } from "@aprender/compute";
 * import { scoped } from "./dispose.ts";
 * const x = tensor([1, 2]);
 * const y = scoped((own) => {
 *   const t = own(x.mul(2));
 *   return t.add(1); // t is disposed, the sum is returned
 * });
 * ```
 */
export function scoped<T>(fn: (own: Own) => T): T {
  const owned: Releasable[] = [];
  let result: T | undefined;
  try {
    result = fn((t, source) => {
      if (t !== source) owned.push(t);
      return t;
    });
    return result;
  } finally {
    disposeAll(owned, partsOf(result));
  }
}

/** The result and, for an array or plain object, its elements or values. */
function partsOf(result: unknown): unknown[] {
  if (Array.isArray(result)) return [result, ...result];
  if (
    result !== null && typeof result === "object" &&
    Object.getPrototypeOf(result) === Object.prototype
  ) {
    return [result, ...Object.values(result)];
  }
  return [result];
}
