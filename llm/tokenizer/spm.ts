/**
 * SentencePiece (`tokenizer.ggml.model = "llama"`) segmentation as llama.cpp does it: greedy
 * merging of adjacent pieces by vocabulary score, then byte fallback for what formed no token.
 *
 * This is not SentencePiece's own algorithm (BPE by merge rank, or unigram Viterbi), and not the
 * BPE model of `@huggingface/tokenizers`: llama.cpp merges the highest-*score* pair present in
 * the vocabulary, leftmost first on ties, and re-splits a final symbol that is not a token
 * through the pair that produced it. Ids equal to llama.cpp's are the goal, so this follows
 * llama.cpp's `llm_tokenizer_spm` (re-written, not copied).
 *
 * @module
 */
import type { Vocab } from "./vocab.ts";

interface Sym {
  /** Start of the symbol in the text (UTF-16 units). */
  start: number;
  /** Length in UTF-16 units; 0 once merged into its left neighbour. */
  n: number;
  prev: number;
  next: number;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** true when bigram a is popped before b: higher score, then leftmost. */
function before(a: Bigram, b: Bigram): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

/** A binary max-heap ordered by {@link before}. */
class Heap {
  private items: Bigram[] = [];
  get size(): number {
    return this.items.length;
  }
  push(b: Bigram): void {
    const a = this.items;
    a.push(b);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Bigram {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

const encoder = new TextEncoder();

/** The id of the byte token `<0xXX>`, else of the one-character token, else unknown. */
function byteToken(vocab: Vocab, byte: number): number | null {
  const hex = `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
  return vocab.ids.get(hex) ?? vocab.ids.get(String.fromCharCode(byte)) ?? vocab.unk;
}

/**
 * Segment one fragment of text (spaces already escaped to `▁`) and append its ids.
 *
 * @param vocab the checked vocabulary
 * @param text the fragment
 * @param out ids are pushed here
 */
export function spmSegment(vocab: Vocab, text: string, out: number[]): void {
  const syms: Sym[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    syms.push({
      start: i,
      n,
      prev: syms.length - 1,
      next: i + n < text.length ? syms.length + 1 : -1,
    });
    i += n;
  }
  if (syms.length === 0) return;
  const heap = new Heap();
  const revMerge = new Map<string, [number, number]>();
  const tryAdd = (left: number, right: number) => {
    if (left === -1 || right === -1) return;
    const s = text.substr(syms[left].start, syms[left].n + syms[right].n);
    const id = vocab.ids.get(s);
    if (id === undefined) return;
    heap.push({ left, right, score: vocab.scores[id], size: s.length });
    revMerge.set(s, [left, right]);
  };
  for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
  while (heap.size > 0) {
    const b = heap.pop();
    const l = syms[b.left], r = syms[b.right];
    // a symbol already merged away or grown since the bigram was queued: stale
    if (l.n === 0 || r.n === 0 || l.n + r.n !== b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    tryAdd(l.prev, b.left);
    tryAdd(b.left, l.next);
  }
  const resegment = (s: Sym) => {
    const piece = text.substr(s.start, s.n);
    const id = vocab.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    const p = revMerge.get(piece);
    if (p === undefined) {
      for (const byte of encoder.encode(piece)) {
        const t = byteToken(vocab, byte);
        if (t !== null) out.push(t);
      }
      return;
    }
    resegment(syms[p[0]]);
    resegment(syms[p[1]]);
  };
  for (let i = 0; i !== -1; i = syms[i].next) resegment(syms[i]);
}
