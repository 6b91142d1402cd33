/**
 * The steps of llama.cpp's sampler chain over a candidate list, each re-written from
 * `src/llama-sampler.cpp` with its float32 arithmetic (values rounded with `Math.fround` where
 * llama.cpp stores a `float`), so cuts and penalties land where llama.cpp's do.
 *
 * @module
 */

/**
 * A candidate list: token ids and their (transformed) logits; the first `size` entries are
 * live. `sorted` says the live entries are in descending logit order.
 *
 * @example
 * ```ts
 * import { candidatesFrom } from "@aprender/compute/llm";
 * const c = candidatesFrom(new Float32Array([0.5, 2, -1]));
 * console.log(c.size, c.sorted); // 3 false
 * ```
 */
export interface Candidates {
  /** Token ids. */
  ids: Int32Array;
  /** Logits, transformed in place by the steps. */
  logits: Float32Array;
  /** Probabilities, filled by the steps that compute a softmax. */
  p: Float32Array;
  /** How many entries are live. */
  size: number;
  /** Whether the live entries are sorted by descending logit. */
  sorted: boolean;
}

/**
 * Every token as a candidate, in id order.
 *
 * @param logits one logit per vocabulary entry
 * @returns a fresh candidate list (the logits are copied)
 */
export function candidatesFrom(logits: Float32Array): Candidates {
  const n = logits.length;
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return { ids, logits: Float32Array.from(logits), p: new Float32Array(n), size: n, sorted: false };
}

/** Reorder the first k entries to the k largest logits, descending (ties: lower id first). */
export function sortTop(c: Candidates, k: number): void {
  const n = c.size;
  const order = Array.from({ length: n }, (_, i) => i);
  const L = c.logits, I = c.ids;
  const cmp = (a: number, b: number) => L[b] - L[a] || I[a] - I[b];
  if (k < n && k <= 4096 && n > 4 * k) {
    // keep a min-heap of the k best, then sort it: O(n log k) instead of O(n log n)
    const heap: number[] = [];
    const worse = (a: number, b: number) => cmp(a, b) > 0; // a ranks below b
    const up = (i: number) => {
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    };
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && worse(heap[l], heap[m])) m = l;
        if (r < heap.length && worse(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    };
    for (let i = 0; i < n; i++) {
      if (heap.length < k) {
        heap.push(i);
        up(heap.length - 1);
      } else if (worse(heap[0], i)) {
        heap[0] = i;
        down(0);
      }
    }
    heap.sort(cmp);
    const chosen = new Set(heap);
    for (let i = 0; i < n; i++) if (!chosen.has(i)) heap.push(i);
    order.splice(0, n, ...heap);
  } else {
    order.sort(cmp);
  }
  const ids = Int32Array.from(order, (i) => I[i]);
  const lg = Float32Array.from(order, (i) => L[i]);
  const p = Float32Array.from(order, (i) => c.p[i]);
  c.ids.set(ids);
  c.logits.set(lg);
  c.p.set(p);
  if (k >= n) c.sorted = true;
}

/**
 * Softmax of the live logits into `p` (float32, as llama.cpp's `softmax_impl`).
 *
 * @param c the candidates
 * @param sort sort them first (descending)
 */
export function softmax(c: Candidates, sort: boolean): void {
  if (c.size === 0) return;
  if (sort && !c.sorted) sortTop(c, c.size);
  let max = -Infinity;
  for (let i = 0; i < c.size; i++) if (c.logits[i] > max) max = c.logits[i];
  let sum = 0;
  for (let i = 0; i < c.size; i++) {
    const e = Math.fround(Math.exp(Math.fround(c.logits[i] - max)));
    c.p[i] = e;
    sum = Math.fround(sum + e);
  }
  for (let i = 0; i < c.size; i++) c.p[i] = c.p[i] / sum;
}

/**
 * Repetition, frequency and presence penalties over the last tokens (llama.cpp's
 * `penalties`): a token seen `count > 0` times has its logit multiplied by `repeat` when ≤ 0,
 * else divided by it, then decreased by `count·frequency + presence`.
 *
 * @param c the candidates
 * @param counts occurrences of each token in the penalty window
 * @param repeat the repetition penalty (1 = none)
 * @param frequency the frequency penalty
 * @param presence the presence penalty
 */
export function penalize(
  c: Candidates,
  counts: Map<number, number>,
  repeat: number,
  frequency: number,
  presence: number,
): void {
  const r = Math.fround(repeat), f = Math.fround(frequency), pr = Math.fround(presence);
  for (let i = 0; i < c.size; i++) {
    const count = counts.get(c.ids[i]);
    if (count === undefined || count === 0) continue;
    let l = c.logits[i];
    l = l <= 0 ? Math.fround(l * r) : Math.fround(l / r);
    const sub = Math.fround(Math.fround(count * f) + pr);
    c.logits[i] = Math.fround(l - sub);
  }
  c.sorted = false;
}

/**
 * Keep the k largest logits (k ≤ 0: all).
 *
 * @param c the candidates
 * @param k how many to keep
 */
export function topK(c: Candidates, k: number): void {
  if (k <= 0) return;
  k = Math.min(k, c.size);
  if (!c.sorted) sortTop(c, k);
  c.size = k;
  c.sorted = true;
}

/**
 * Nucleus sampling: keep the most probable tokens until their probability mass reaches `p`
 * (and at least `minKeep`); p ≥ 1 keeps all.
 *
 * @param c the candidates
 * @param p the mass to keep
 * @param minKeep the fewest tokens to keep
 */
export function topP(c: Candidates, p: number, minKeep = 0): void {
  if (p >= 1) return;
  softmax(c, true);
  const pf = Math.fround(p);
  let cum = 0, last = c.size;
  for (let i = 0; i < c.size; i++) {
    cum = Math.fround(cum + c.p[i]);
    if (cum >= pf && i + 1 >= minKeep) {
      last = i + 1;
      break;
    }
  }
  c.size = last;
}

/**
 * Keep tokens whose probability is at least `p` times the most probable one's (in logit space:
 * `logit ≥ max + log p`); p ≤ 0 keeps all.
 *
 * @param c the candidates
 * @param p the ratio
 * @param minKeep the fewest tokens to keep
 */
export function minP(c: Candidates, p: number, minKeep = 0): void {
  if (p <= 0 || c.size === 0) return;
  let max = -Infinity;
  for (let i = 0; i < c.size; i++) if (c.logits[i] > max) max = c.logits[i];
  const min = Math.fround(max + Math.fround(Math.log(p)));
  let n = 0;
  for (let i = 0; i < c.size; i++) if (c.logits[i] >= min) n++;
  if (n > 0 && n >= minKeep) {
    let j = 0;
    for (let i = 0; i < c.size; i++) {
      if (c.logits[i] >= min) {
        c.ids[j] = c.ids[i];
        c.logits[j] = c.logits[i];
        c.p[j] = c.p[i];
        j++;
      }
    }
    c.size = n;
    return;
  }
  if (!c.sorted) sortTop(c, c.size);
  let i = 1;
  for (; i < c.size; i++) if (c.logits[i] < min && i >= minKeep) break;
  c.size = i;
}

/**
 * Locally typical sampling (Meister et al.): keep the tokens whose surprisal is closest to the
 * entropy until their mass exceeds `p`; p ≥ 1 keeps all.
 *
 * @param c the candidates
 * @param p the mass to keep
 * @param minKeep the fewest tokens to keep
 */
export function typical(c: Candidates, p: number, minKeep = 0): void {
  if (p >= 1) return;
  softmax(c, true);
  let entropy = 0;
  for (let i = 0; i < c.size; i++) {
    entropy = Math.fround(entropy + Math.fround(-c.p[i] * Math.fround(Math.log(c.p[i]))));
  }
  const shifted = new Float32Array(c.size);
  for (let i = 0; i < c.size; i++) {
    shifted[i] = Math.abs(Math.fround(-Math.fround(Math.log(c.p[i])) - entropy));
  }
  const idx = Array.from({ length: c.size }, (_, i) => i).sort((a, b) =>
    shifted[a] - shifted[b] || a - b
  );
  const pf = Math.fround(p);
  let cum = 0, last = idx.length;
  for (let i = 0; i < idx.length; i++) {
    cum = Math.fround(cum + c.p[idx[i]]);
    if (cum > pf && (minKeep === 0 || i >= minKeep - 1)) {
      last = i + 1;
      break;
    }
  }
  const ids = idx.slice(0, last).map((i) => c.ids[i]);
  const lg = idx.slice(0, last).map((i) => c.logits[i]);
  const pp = idx.slice(0, last).map((i) => c.p[i]);
  c.ids.set(ids);
  c.logits.set(lg);
  c.p.set(pp);
  c.size = last;
  c.sorted = false;
}

/**
 * Divide the logits by the temperature; t ≤ 0 keeps only the largest (greedy).
 *
 * @param c the candidates
 * @param t the temperature
 */
export function temperature(c: Candidates, t: number): void {
  if (c.size === 0) return;
  if (t <= 0) {
    let best = 0;
    for (let i = 1; i < c.size; i++) {
      if (c.logits[i] > c.logits[best]) {
        c.logits[best] = -Infinity;
        best = i;
      } else c.logits[i] = -Infinity;
    }
    return;
  }
  const tf = Math.fround(t);
  for (let i = 0; i < c.size; i++) c.logits[i] = Math.fround(c.logits[i] / tf);
}

/**
 * Draw from the softmax of the live logits with a uniform `u` in [0, 1): the first candidate
 * whose running mass reaches `u` times the total (llama.cpp's `dist`).
 *
 * @param c the candidates
 * @param u a uniform number in [0, 1)
 * @returns the chosen token id
 */
export function draw(c: Candidates, u: number): number {
  if (c.size === 1) return c.ids[0];
  let max = -Infinity;
  for (let i = 0; i < c.size; i++) if (c.logits[i] > max) max = c.logits[i];
  let sum = 0;
  for (let i = 0; i < c.size; i++) {
    const e = Math.fround(Math.exp(Math.fround(c.logits[i] - max)));
    c.p[i] = e;
    sum += e;
  }
  const target = sum * u;
  let run = 0;
  for (let i = 0; i < c.size; i++) {
    run += c.p[i];
    if (run >= target && c.p[i] > 0) return c.ids[i];
  }
  return c.ids[c.size - 1];
}
