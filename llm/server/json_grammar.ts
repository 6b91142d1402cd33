/**
 * JSON Schema → a byte-level pushdown automaton for constrained decoding. The automaton accepts
 * exactly the compact JSON texts (no whitespace) that validate against the schema, one byte at a
 * time; {@link JsonGrammar.minimalCompletion} gives the shortest bytes that finish a partial text
 * (used to close the answer before `max_tokens` runs out).
 *
 * Supported: `type` (one or a list), `properties` (generated in declared order; `required` ones
 * always present), `additionalProperties`, `items`, `minItems`/`maxItems`, `enum`, `const`,
 * `anyOf`/`oneOf` (alternatives of different types), `minLength`/`maxLength`, `minimum: 0` on
 * numbers, local `$ref` into `$defs`/`definitions`. Anything else is refused with
 * {@link SchemaError} rather than generating text that might not validate.
 *
 * @module
 */
import { ANY, compile, type Node, type ObjNode, SchemaError } from "./json_schema.ts";

export { SchemaError };

type Frame =
  | { t: "value"; n: Node }
  | { t: "lit"; texts: Uint8Array[]; i: number }
  | { t: "str"; len: number; min: number; max: number; esc: number; u8: number; lead: number }
  | { t: "num"; ph: number; integer: boolean; neg: boolean; digits: number }
  | {
    t: "obj";
    n: ObjNode;
    ph: number;
    next: number;
    key: number;
    cands: number[];
    i: number;
  }
  | { t: "arr"; n: Node & { k: "array" }; ph: number; count: number };

/** A parse state: alternative stacks (top at the end); empty list = dead. */
export type GrammarState = readonly (readonly Frame[])[];

const enc = new TextEncoder();
const MAX_DIGITS = 15;
const isDigit = (b: number) => b >= 48 && b <= 57;
const HEX = /^[0-9a-fA-F]$/;

/** Frames that start a value of node `n` on byte `b` (several for alternatives). */
function open(n: Node, b: number, out: Frame[][], below: readonly Frame[]): void {
  const push = (...f: Frame[]) => out.push([...below, ...f]);
  switch (n.k) {
    case "ref":
      return open(n.get(), b, out, below);
    case "alt":
      for (const m of n.nodes) open(m, b, out, below);
      return;
    case "lit": {
      const texts = n.texts.filter((t) => t[0] === b);
      if (texts.length) {
        for (const f of feed([...below, { t: "lit", texts, i: 0 }], b)) out.push(f);
      }
      return;
    }
    case "string":
      if (b === 34) push({ t: "str", len: 0, min: n.min, max: n.max, esc: 0, u8: 0, lead: 0 });
      return;
    case "number":
      if (b === 45 && !n.nonNegative) {
        push({ t: "num", ph: 0, integer: n.integer, neg: true, digits: 0 });
      } else if (isDigit(b)) {
        push({ t: "num", ph: b === 48 ? 2 : 1, integer: n.integer, neg: false, digits: 1 });
      }
      return;
    case "object":
      if (b === 123) push({ t: "obj", n, ph: 0, next: 0, key: -1, cands: [], i: 0 });
      return;
    case "array":
      if (b === 91) push({ t: "arr", n, ph: 0, count: 0 });
      return;
    case "any":
      if (b === 123) push({ t: "obj", n: ANY_OBJECT, ph: 0, next: 0, key: -1, cands: [], i: 0 });
      else if (b === 91) push({ t: "arr", n: ANY_ARRAY, ph: 0, count: 0 });
      else if (b === 34 || b === 45 || isDigit(b)) {
        open({ k: "string", min: 0, max: Infinity }, b, out, below);
        open({ k: "number", integer: false, nonNegative: false }, b, out, below);
      } else open(ANY_LIT, b, out, below);
      return;
  }
}
const ANY_OBJECT: ObjNode = { k: "object", props: [], keys: [], required: new Set(), extra: ANY };
const ANY_ARRAY = { k: "array", items: ANY, min: 0, max: Infinity } as const satisfies Node;
const ANY_LIT: Node = { k: "lit", texts: ["true", "false", "null"].map((t) => enc.encode(t)) };
const KEY_FRAME: Frame = { t: "str", len: 0, min: 0, max: Infinity, esc: 0, u8: 0, lead: 0 };

/** Replace the top frame. */
const withTop = (s: readonly Frame[], f: Frame): Frame[] => [...s.slice(0, -1), f];

/** Advance one stack by byte `b`: the resulting stacks (none when `b` is not allowed). */
function feed(s: readonly Frame[], b: number): Frame[][] {
  const out: Frame[][] = [];
  if (s.length === 0) return out;
  const f = s[s.length - 1];
  const below = s.slice(0, -1);
  switch (f.t) {
    case "value":
      open(f.n, b, out, below);
      break;
    case "lit": {
      const texts = f.texts.filter((t) => t[f.i] === b);
      if (texts.length === 0) break;
      const i = f.i + 1;
      const done = texts.some((t) => t.length === i);
      const more = texts.filter((t) => t.length > i);
      if (more.length) out.push(withTop(s, { t: "lit", texts: more, i }));
      if (done) out.push(below);
      break;
    }
    case "str": {
      if (f.u8 > 0) {
        if (b < 0x80 || b > 0xbf) break;
        if (f.lead && !leadOk(f.lead, b)) break;
        out.push(withTop(s, { ...f, u8: f.u8 - 1, lead: 0 }));
        break;
      }
      if (f.esc === 1) {
        if (b === 117) out.push(withTop(s, { ...f, esc: 2 }));
        else if ('"\\/bfnrt'.includes(String.fromCharCode(b))) {
          out.push(withTop(s, { ...f, esc: 0 }));
        }
        break;
      }
      if (f.esc >= 2) {
        if (HEX.test(String.fromCharCode(b))) {
          out.push(withTop(s, { ...f, esc: f.esc === 5 ? 0 : f.esc + 1 }));
        }
        break;
      }
      if (b === 34) {
        if (f.len >= f.min) out.push(below);
        break;
      }
      if (b < 0x20 || f.len >= f.max) break;
      const g = { ...f, len: f.len + 1 };
      if (b === 92) g.esc = 1;
      else if (b >= 0xc2 && b <= 0xdf) g.u8 = 1;
      else if (b >= 0xe0 && b <= 0xef) (g.u8 = 2), (g.lead = b);
      else if (b >= 0xf0 && b <= 0xf4) (g.u8 = 3), (g.lead = b);
      else if (b >= 0x80) break;
      out.push(withTop(s, g));
      break;
    }
    case "num": {
      // ph: 0 after '-', 1 int digits, 2 after leading 0, 3 after '.', 4 frac digits,
      // 5 after e, 6 after e sign, 7 exp digits
      const d = isDigit(b);
      const next = (ph: number, dig = 0) =>
        out.push(withTop(s, { ...f, ph, digits: ph === 5 ? MAX_DIGITS - 2 : f.digits + dig }));
      // at most MAX_DIGITS mantissa digits and 2 exponent digits (the exponent phase starts the
      // count at MAX_DIGITS - 2), so every number stays finite; a phase that needs a digit gets one
      if (d && f.digits >= MAX_DIGITS && (f.ph === 1 || f.ph === 4 || f.ph === 7)) {
        // too long: only ends allowed (falls through to the end test below)
      } else if (f.ph === 0 && d) return (next(b === 48 ? 2 : 1, 1), out);
      else if (f.ph === 1 && d) return (next(1, 1), out);
      else if ((f.ph === 3 || f.ph === 4) && d) return (next(4, 1), out);
      else if ((f.ph === 5 || f.ph === 6 || f.ph === 7) && d) return (next(7, 1), out);
      else if (!f.integer && b === 46 && (f.ph === 1 || f.ph === 2)) return (next(3), out);
      else if (!f.integer && (b === 101 || b === 69) && (f.ph === 1 || f.ph === 2 || f.ph === 4)) {
        return (next(5), out);
      } else if (f.ph === 5 && (b === 43 || b === 45)) return (next(6), out);
      if (numEnds(f)) { for (const r of feed(below, b)) out.push(r); }
      break;
    }
    case "obj": {
      // ph 0 after '{', 3 after ',', 5 inside a declared key, 1 before ':', 2 after a value
      const n = f.n;
      if (f.ph === 0 && b === 125 && requiredDone(n, f.next)) out.push(below);
      if ((f.ph === 0 || f.ph === 3) && b === 34) {
        if (n.extra) {
          out.push([...withTop(s, { ...f, ph: 1, key: -1 }), { ...KEY_FRAME }]);
        } else {
          const cands: number[] = [];
          for (let i = f.next; i < n.props.length; i++) {
            cands.push(i);
            if (n.required.has(n.props[i][0])) break;
          }
          if (cands.length) out.push(withTop(s, { ...f, ph: 5, cands, i: 1 }));
        }
      } else if (f.ph === 5) {
        const cands = f.cands.filter((c) => n.keys[c][f.i] === b);
        const i = f.i + 1;
        const done = cands.find((c) => n.keys[c].length === i);
        if (done !== undefined) out.push(withTop(s, { ...f, ph: 1, key: done }));
        const more = cands.filter((c) => n.keys[c].length > i);
        if (more.length) out.push(withTop(s, { ...f, cands: more, i }));
      } else if (f.ph === 1 && b === 58) {
        const node = f.key < 0 ? n.extra! : n.props[f.key][1];
        const next = f.key < 0 ? f.next : f.key + 1;
        out.push([...withTop(s, { ...f, ph: 2, next }), { t: "value", n: node }]);
      } else if (f.ph === 2) {
        if (b === 125 && requiredDone(n, f.next)) out.push(below);
        if (b === 44 && (n.extra || f.next < n.props.length)) out.push(withTop(s, { ...f, ph: 3 }));
      }
      break;
    }
    case "arr": {
      const n = f.n;
      if (f.ph === 0 && b === 93 && n.min === 0) out.push(below);
      else if (f.ph === 2 && b === 93 && f.count >= n.min) out.push(below);
      else if (f.ph === 2 && b === 44 && f.count < n.max) {
        out.push(withTop(s, { ...f, ph: 1 }));
      }
      if ((f.ph === 0 && n.max > 0) || f.ph === 1) {
        const up = withTop(s, { ...f, ph: 2, count: f.count + 1 });
        open(n.items, b, out, up);
      }
      break;
    }
  }
  return out;
}

function leadOk(lead: number, b: number): boolean {
  if (lead === 0xe0) return b >= 0xa0;
  if (lead === 0xed) return b <= 0x9f;
  if (lead === 0xf0) return b >= 0x90;
  if (lead === 0xf4) return b <= 0x8f;
  return true;
}

const numEnds = (f: Frame & { t: "num" }) => f.ph === 1 || f.ph === 2 || f.ph === 4 || f.ph === 7;

function requiredDone(n: ObjNode, next: number): boolean {
  for (let i = next; i < n.props.length; i++) if (n.required.has(n.props[i][0])) return false;
  return true;
}

/**
 * A JSON grammar compiled from a schema (or any JSON object for `json_object`), stepping over
 * bytes.
 *
 * @example
 * ```ts
 * import { JsonGrammar } from "./json_grammar.ts";
 * const g = JsonGrammar.fromSchema({ type: "object", properties: { a: { type: "boolean" } }, required: ["a"] });
 * let s = g.start();
 * for (const b of new TextEncoder().encode('{"a":true}')) s = g.step(s, b);
 * console.log(g.accepts(s)); // true
 * ```
 */
export class JsonGrammar {
  private constructor(
    private readonly root: Node,
    private readonly prefix = "",
    private readonly suffix = "",
  ) {}

  /**
   * Compile a JSON schema.
   *
   * @param schema the schema (draft 2020-12 subset, see the module documentation)
   * @param wrap literal text before and after the JSON value (e.g. `<tool_call>` tags)
   * @throws SchemaError for what the grammar cannot enforce
   */
  static fromSchema(schema: unknown, wrap: { prefix?: string; suffix?: string } = {}): JsonGrammar {
    const root = typeof schema === "object" && schema !== null
      ? schema as Record<string, unknown>
      : {};
    return new JsonGrammar(compile(schema, root, "#", 0), wrap.prefix, wrap.suffix);
  }

  /** Any JSON object (`response_format: { type: "json_object" }`). */
  static anyObject(): JsonGrammar {
    return new JsonGrammar(ANY_OBJECT);
  }

  /** The state before any byte. */
  start(): GrammarState {
    const frames: Frame[] = [];
    if (this.suffix) frames.push({ t: "lit", texts: [enc.encode(this.suffix)], i: 0 });
    frames.push({ t: "value", n: this.root });
    if (this.prefix) frames.push({ t: "lit", texts: [enc.encode(this.prefix)], i: 0 });
    return [frames];
  }

  /**
   * The state after byte `b` (empty when `b` is not allowed).
   *
   * @param state the current state
   * @param b the next byte
   */
  step(state: GrammarState, b: number): GrammarState {
    const out: Frame[][] = [];
    for (const s of state) for (const r of feed(s, b)) out.push(r);
    return out.length > 8 ? dedupe(out) : out;
  }

  /**
   * Whether the state is one stack inside a string with no escape or UTF-8 sequence open (where
   * {@link stepMany} takes plain characters without copying frames).
   *
   * @param state the current state
   */
  inPlainString(state: GrammarState): boolean {
    if (state.length !== 1) return false;
    const f = state[0][state[0].length - 1];
    return f?.t === "str" && f.esc === 0 && f.u8 === 0;
  }

  /**
   * The state after all of `bytes` (empty when one is not allowed); plain string characters are
   * counted in one pass.
   *
   * @param state the current state
   * @param bytes the bytes
   */
  stepMany(state: GrammarState, bytes: Uint8Array): GrammarState {
    let i = 0;
    if (this.inPlainString(state)) {
      const s = state[0], f = s[s.length - 1] as Frame & { t: "str" };
      let len = f.len;
      while (i < bytes.length) {
        const b = bytes[i];
        if (b < 0x20 || b >= 0x80 || b === 34 || b === 92) break;
        if (len >= f.max) return [];
        len++, i++;
      }
      if (i === bytes.length && len === f.len) return state;
      if (len !== f.len) state = [withTop(s, { ...f, len })];
    }
    for (; i < bytes.length && state.length; i++) state = this.step(state, bytes[i]);
    return state;
  }

  /**
   * Whether the bytes so far form a complete text.
   *
   * @param state the current state
   */
  accepts(state: GrammarState): boolean {
    return state.some((s) =>
      s.length === 0 || (s.length === 1 && s[0].t === "num" && numEnds(s[0]))
    );
  }

  /**
   * Whether more bytes may follow.
   *
   * @param state the current state
   */
  canContinue(state: GrammarState): boolean {
    return state.some((s) => s.length > 0);
  }

  /**
   * The shortest bytes that complete the text from `state` (empty when already complete).
   *
   * @param state the current state (not dead)
   */
  minimalCompletion(state: GrammarState): Uint8Array {
    let best: number[] | null = null;
    for (const s of state) {
      const c = completeStack(s);
      if (best === null || c.length < best.length) best = c;
    }
    return new Uint8Array(best ?? []);
  }
}

function dedupe(stacks: Frame[][]): Frame[][] {
  const seen = new Map<string, Frame[]>();
  for (const s of stacks) {
    const key = JSON.stringify(
      s,
      (_k, v) => (v instanceof Set ? [...v] : typeof v === "function" ? 0 : v),
    );
    if (!seen.has(key)) seen.set(key, s);
  }
  return [...seen.values()];
}

function minimalValue(n: Node, depth = 0): number[] {
  if (depth > 32) return [...enc.encode("null")];
  switch (n.k) {
    case "ref":
      return minimalValue(n.get(), depth + 1);
    case "any":
      return [48];
    case "lit":
      return [...n.texts.reduce((a, t) => (t.length < a.length ? t : a))];
    case "string":
      return [34, ...new Array(n.min).fill(97), 34];
    case "number":
      return [48];
    case "alt":
      return n.nodes.map((m) => minimalValue(m, depth + 1)).reduce((
        a,
        c,
      ) => (c.length < a.length ? c : a));
    case "object":
      return [123, ...objectRest(n, 0, false, depth), 125];
    case "array": {
      const item = minimalValue(n.items, depth + 1);
      const out: number[] = [91];
      for (let i = 0; i < n.min; i++) out.push(...(i ? [44] : []), ...item);
      return [...out, 93];
    }
  }
}

/** Required properties from `next` on, as `"k":v` pairs; `comma` when one was written before. */
function objectRest(n: ObjNode, next: number, comma: boolean, depth: number): number[] {
  const out: number[] = [];
  for (let i = next; i < n.props.length; i++) {
    const [k, v] = n.props[i];
    if (!n.required.has(k)) continue;
    if (comma || out.length) out.push(44);
    out.push(...enc.encode(JSON.stringify(k)), 58, ...minimalValue(v, depth + 1));
  }
  return out;
}

function completeStack(s: readonly Frame[]): number[] {
  const out: number[] = [];
  for (let j = s.length - 1; j >= 0; j--) {
    const f = s[j];
    switch (f.t) {
      case "value":
        out.push(...minimalValue(f.n));
        break;
      case "lit":
        out.push(...f.texts.reduce((a, t) => (t.length < a.length ? t : a)).subarray(f.i));
        break;
      case "str": {
        if (f.esc === 1) out.push(110);
        if (f.esc >= 2) { for (let i = f.esc; i <= 5; i++) out.push(48); }
        if (f.u8 > 0) {
          out.push(f.lead === 0xe0 ? 0xa0 : f.lead === 0xf0 ? 0x90 : 0x80);
          for (let i = 1; i < f.u8; i++) out.push(0x80);
        }
        for (let i = f.len; i < f.min; i++) out.push(97);
        out.push(34);
        break;
      }
      case "num":
        if (!numEnds(f)) out.push(48);
        break;
      case "obj": {
        const n = f.n;
        if (f.ph === 5) {
          const c = f.cands.reduce((a, c) => (n.keys[c].length < n.keys[a].length ? c : a));
          out.push(...n.keys[c].subarray(f.i), 58, ...minimalValue(n.props[c][1]));
          out.push(...objectRest(n, c + 1, true, 0), 125);
        } else if (f.ph === 0) out.push(...objectRest(n, f.next, false, 0), 125);
        else if (f.ph === 1) {
          out.push(58, ...minimalValue(f.key < 0 ? n.extra! : n.props[f.key][1]));
          out.push(...objectRest(n, f.key < 0 ? f.next : f.key + 1, true, 0), 125);
        } else if (f.ph === 2) out.push(...objectRest(n, f.next, true, 0), 125);
        else {
          // after ',': a key must follow
          const rest = objectRest(n, f.next, false, 0);
          if (rest.length) out.push(...rest, 125);
          else if (n.extra) out.push(...enc.encode('"a":'), ...minimalValue(n.extra), 125);
          else {
            const i = f.next;
            out.push(...n.keys[i], 58, ...minimalValue(n.props[i][1]), 125);
          }
        }
        break;
      }
      case "arr": {
        const item = minimalValue(f.n.items);
        if (f.ph === 1) out.push(...item);
        const have = f.ph === 0 ? 0 : f.count;
        for (let i = have; i < f.n.min; i++) out.push(...(i || f.ph !== 0 ? [44] : []), ...item);
        out.push(93);
        break;
      }
    }
  }
  return out;
}
