/**
 * Token masks from a {@link JsonGrammar}: the vocabulary's byte pieces in a trie, walked with the
 * grammar state so a shared prefix is stepped once and a dead branch is cut at its first byte.
 *
 * @module
 */
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { GrammarState, JsonGrammar } from "./json_grammar.ts";

/** Tokens before the budget's end from which the completion check starts. */
const SLACK = 8;

interface TrieNode {
  /** Children by byte. */
  next: Map<number, TrieNode>;
  /** Tokens whose piece ends here. */
  ids: number[];
}

/**
 * The byte trie of a tokenizer's pieces (control tokens and empty pieces left out).
 *
 * @example
 * ```ts ignore
 * const trie = new TokenTrie(model.tokenizer);
 * ```
 */
export class TokenTrie {
  /** The root node. */
  readonly root: TrieNode = { next: new Map(), ids: [] };
  /** Each token's bytes (empty for the ones left out). */
  readonly pieces: Uint8Array[];

  /**
   * Build the trie.
   *
   * @param tokenizer the model's tokenizer
   */
  constructor(readonly tokenizer: Tokenizer) {
    this.pieces = [];
    for (let id = 0; id < tokenizer.size; id++) {
      const p = tokenizer.isEog(id) ? new Uint8Array(0) : tokenizer.tokenToPiece(id, false);
      this.pieces.push(p);
      if (p.length === 0) continue;
      let n = this.root;
      for (const b of p) {
        let c = n.next.get(b);
        if (!c) n.next.set(b, c = { next: new Map(), ids: [] });
        n = c;
      }
      n.ids.push(id);
    }
  }
}

/**
 * Constrained decoding of one answer: masks the logits to the tokens the grammar allows and
 * tracks the state through the chosen tokens. Near the token budget it allows only tokens that
 * follow the shortest completion, so the text is always complete when the budget ends.
 *
 * @example
 * ```ts ignore
 * const c = new GrammarConstraint(JsonGrammar.anyObject(), trie);
 * c.mask(logits, remainingTokens); // sets disallowed logits to -Infinity
 * c.accept(token);
 * ```
 */
export class GrammarConstraint {
  private state: GrammarState;

  /**
   * Start at the grammar's initial state.
   *
   * @param grammar the compiled grammar
   * @param trie the vocabulary trie
   */
  constructor(readonly grammar: JsonGrammar, readonly trie: TokenTrie) {
    this.state = grammar.start();
  }

  /** Whether the text so far is complete (EOS allowed). */
  get complete(): boolean {
    return this.grammar.accepts(this.state);
  }

  /** Whether no byte may follow (the answer must end now). */
  get finished(): boolean {
    return !this.grammar.canContinue(this.state);
  }

  /**
   * Set the logits of disallowed tokens to −Infinity (in place).
   *
   * @param logits one logit per vocabulary entry
   * @param budget tokens left before `max_tokens`, counting this one
   */
  mask(logits: Float32Array, budget: number): void {
    const allowed = new Uint8Array(logits.length);
    const need = this.grammar.minimalCompletion(this.state);
    let any = this.walk(allowed);
    if (any && need.length > 0 && budget <= need.length + SLACK) {
      // near the end: keep only tokens after which the shortest completion still fits
      any = false;
      const plain = this.grammar.inPlainString(this.state) && need.length <= budget - 1;
      for (let id = 0; id < logits.length; id++) {
        if (!allowed[id]) continue;
        // plain characters inside a string never lengthen the completion
        if (plain && isPlain(this.trie.pieces[id])) {
          any = true;
          continue;
        }
        const s = this.grammar.stepMany(this.state, this.trie.pieces[id]);
        if (this.grammar.minimalCompletion(s).length <= budget - 1) any = true;
        else allowed[id] = 0;
      }
      if (!any) this.follow(need, allowed);
    }
    if (this.complete) {
      for (let id = 0; id < logits.length; id++) {
        if (this.trie.tokenizer.isEog(id)) allowed[id] = 1;
      }
    }
    for (let id = 0; id < logits.length; id++) if (!allowed[id]) logits[id] = -Infinity;
  }

  /** Allow the tokens that are a prefix of `need`; false when there are none. */
  private follow(need: Uint8Array, allowed: Uint8Array): boolean {
    let n = this.trie.root, any = false;
    for (const b of need) {
      const c = n.next.get(b);
      if (!c) break;
      n = c;
      for (const id of n.ids) allowed[id] = 1, any = true;
    }
    return any;
  }

  /** Allow every token whose bytes the grammar accepts from here. */
  private walk(allowed: Uint8Array): boolean {
    let any = false;
    const g = this.grammar;
    if (g.inPlainString(this.state)) {
      // inside a string nearly every token is allowed: one pass per token beats the trie walk
      const pieces = this.trie.pieces;
      for (let id = 0; id < pieces.length; id++) {
        if (pieces[id].length && g.stepMany(this.state, pieces[id]).length) {
          allowed[id] = 1, any = true;
        }
      }
      return any;
    }
    const visit = (n: TrieNode, s: GrammarState) => {
      for (const [b, c] of n.next) {
        const t = g.step(s, b);
        if (t.length === 0) continue;
        for (const id of c.ids) allowed[id] = 1, any = true;
        if (c.next.size) visit(c, t);
      }
    };
    visit(this.trie.root, this.state);
    return any;
  }

  /**
   * Advance through a chosen token's bytes.
   *
   * @param token the sampled token (EOS ends the text)
   */
  accept(token: number): void {
    this.state = this.grammar.stepMany(this.state, this.trie.pieces[token]);
  }
}

/** Whether every byte is an ASCII character a string takes as is (no quote, backslash, control). */
function isPlain(p: Uint8Array): boolean {
  for (const b of p) if (b < 0x20 || b >= 0x80 || b === 34 || b === 92) return false;
  return true;
}
