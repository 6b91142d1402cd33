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
 * @param reuse a candidate list of the same vocabulary size whose buffers are overwritten
 * @returns the candidate list (the logits are copied)
 */
export function candidatesFrom(logits: Float32Array, reuse?: Candidates): Candidates {
  const n = logits.length;
  const c = reuse !== undefined && reuse.ids.length === n ? reuse : {
    ids: new Int32Array(n),
    logits: new Float32Array(n),
    p: new Float32Array(n),
    size: n,
    sorted: false,
  };
  for (let i = 0; i < n; i++) c.ids[i] = i;
  c.logits.set(logits);
  c.p.fill(0);
  c.size = n;
  c.sorted = false;
  return c;
}

/**
 * All live positions by descending logit, ties by lower id. When the ids are in increasing order
 * (the usual case) this is a stable LSD radix sort (3 passes of 11 bits) on the logits' bits
 * mapped to a descending order, O(n); otherwise a comparator sort.
 */
function sortedPositions(c: Candidates): Int32Array {
  const n = c.size, L = c.logits, I = c.ids;
  let increasing = true;
  for (let i = 1; increasing && i < n; i++) if (I[i] <= I[i - 1]) increasing = false;
  let pos = new Int32Array(n);
  if (!increasing) {
    for (let i = 0; i < n; i++) pos[i] = i;
    return pos.sort((a, b) => L[b] - L[a] || I[a] - I[b]);
  }
  const bits = new Uint32Array(L.buffer, L.byteOffset, n);
  let key = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const b = bits[i] === 0x80000000 ? 0 : bits[i]; // -0 ties with +0, as in the comparator
    // ascending-in-the-float order of the bit pattern, then flipped for descending logits
    key[i] = ~(b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
    pos[i] = i;
  }
  let key2 = new Uint32Array(n), pos2 = new Int32Array(n);
  const count = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(key[i] >>> shift) & 2047]++;
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const t = count[d];
      count[d] = sum;
      sum += t;
    }
    for (let i = 0; i < n; i++) {
      const d = (key[i] >>> shift) & 2047;
      const at = count[d]++;
      key2[at] = key[i];
      pos2[at] = pos[i];
    }
    [key, key2] = [key2, key];
    [pos, pos2] = [pos2, pos];
  }
  return pos;
}

/**
 * Positions of the k best live entries (higher logit, then lower id), best first: a bounded
 * heap over typed arrays when k is small, else a full sort.
 */
function bestPositions(c: Candidates, k: number): Int32Array {
  const n = c.size, L = c.logits, I = c.ids;
  k = Math.min(k, n);
  const cmp = (a: number, b: number) => L[b] - L[a] || I[a] - I[b];
  if (k * 8 >= n) return sortedPositions(c).subarray(0, k);
  // min-heap of the k best seen so far; heap[0] is the worst of them
  const heap = new Int32Array(k);
  const worse = (a: number, b: number) => L[a] < L[b] || (L[a] === L[b] && I[a] > I[b]);
  for (let i = 0; i < k; i++) {
    let j = i;
    heap[j] = i;
    while (j > 0) {
      const p = (j - 1) >> 1;
      if (!worse(heap[j], heap[p])) break;
      const t = heap[j];
      heap[j] = heap[p];
      heap[p] = t;
      j = p;
    }
  }
  for (let i = k; i < n; i++) {
    if (!worse(heap[0], i)) continue;
    heap[0] = i;
    let j = 0;
    for (;;) {
      const l = 2 * j + 1, r = l + 1;
      let m = j;
      if (l < k && worse(heap[l], heap[m])) m = l;
      if (r < k && worse(heap[r], heap[m])) m = r;
      if (m === j) break;
      const t = heap[j];
      heap[j] = heap[m];
      heap[m] = t;
      j = m;
    }
  }
  return heap.sort(cmp);
}

/** Move the entries at `pos` (in that order) to the front; the others follow in their order. */
function moveToFront(c: Candidates, pos: Int32Array): void {
  const n = c.size, k = pos.length;
  const ids = new Int32Array(n), lg = new Float32Array(n), p = new Float32Array(n);
  const taken = new Uint8Array(n);
  for (let i = 0; i < k; i++) {
    const q = pos[i];
    ids[i] = c.ids[q];
    lg[i] = c.logits[q];
    p[i] = c.p[q];
    taken[q] = 1;
  }
  let j = k;
  if (k < n) {
    for (let q = 0; q < n; q++) {
      if (taken[q]) continue;
      ids[j] = c.ids[q];
      lg[j] = c.logits[q];
      p[j] = c.p[q];
      j++;
    }
  }
  c.ids.set(ids);
  c.logits.set(lg);
  c.p.set(p);
}

/**
 * Reorder the live entries so the first k are the k largest logits, descending (ties: lower id
 * first); k ≥ size sorts them all.
 *
 * @param c the candidates
 * @param k how many to bring to the front in order
 */
export function sortTop(c: Candidates, k: number): void {
  moveToFront(c, bestPositions(c, k));
  if (k >= c.size) c.sorted = true;
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
  const at = new Map<number, number>();
  for (const id of counts.keys()) {
    if (id < c.size && c.ids[id] === id) at.set(id, id); // candidates still in id order
  }
  if (at.size < counts.size) {
    for (let i = 0; i < c.size; i++) if (counts.has(c.ids[i])) at.set(c.ids[i], i);
  }
  for (const [id, i] of at) {
    const count = counts.get(id);
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
  if (!c.sorted) {
    const pos = bestPositions(c, k);
    const ids = Int32Array.from(pos, (q) => c.ids[q]);
    const lg = Float32Array.from(pos, (q) => c.logits[q]);
    const p = Float32Array.from(pos, (q) => c.p[q]);
    c.ids.set(ids);
    c.logits.set(lg);
    c.p.set(p);
  }
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
  // llama.cpp: probabilities summed in the current order, then the most probable first (the
  // best 256 when they already reach the mass, else all of them)
  softmax(c, false);
  const pf = Math.fround(p);
  const cut = (pos: Int32Array | null, n: number): number => {
    let cum = 0;
    for (let i = 0; i < n; i++) {
      cum = Math.fround(cum + c.p[pos ? pos[i] : i]);
      if (cum >= pf && i + 1 >= minKeep) return i + 1;
    }
    return -1;
  };
  let pos: Int32Array | null = null, last = -1;
  if (!c.sorted && c.size > 1024) {
    pos = bestPositions(c, 256);
    last = cut(pos, pos.length);
  }
  if (last === -1) {
    pos = c.sorted ? null : sortedPositions(c);
    last = cut(pos, c.size);
    if (last === -1) last = c.size;
  }
  if (pos !== null) {
    const keep = pos.subarray(0, last);
    const ids = Int32Array.from(keep, (q) => c.ids[q]);
    const lg = Float32Array.from(keep, (q) => c.logits[q]);
    const pp = Float32Array.from(keep, (q) => c.p[q]);
    c.ids.set(ids);
    c.logits.set(lg);
    c.p.set(pp);
  }
  c.size = last;
  c.sorted = true;
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
