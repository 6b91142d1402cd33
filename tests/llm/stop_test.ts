import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError } from "../../core/errors.ts";
import { StopMatcher } from "../../llm/mod.ts";

/** The specification, one character at a time: stop where a stop string first completes. */
function reference(text: string, stops: string[]): { text: string; stop: string | null } {
  for (let e = 1; e <= text.length; e++) {
    let best: string | null = null;
    for (const s of stops) {
      if (s.length <= e && text.slice(e - s.length, e) === s) {
        if (best === null || s.length > best.length) best = s;
      }
    }
    if (best !== null) return { text: text.slice(0, e - best.length), stop: best };
  }
  return { text, stop: null };
}

function chunked(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(text.slice(prev, c));
    prev = c;
  }
  out.push(text.slice(prev));
  return out;
}

Deno.test("StopMatcher: any chunking gives the text before the first completed stop", () => {
  const alpha = fc.constantFrom("a", "b", "c", "\n", "é", "😀");
  const str = (min: number, max: number) =>
    fc.array(alpha, { minLength: min, maxLength: max }).map((a) => a.join(""));
  fc.assert(
    fc.property(
      str(0, 40),
      fc.array(str(1, 4), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (text, stops, cuts) => {
        const m = new StopMatcher(stops);
        let out = "", stop: string | null = null;
        for (const piece of chunked(text, cuts)) {
          const r = m.push(piece);
          out += r.text;
          if (r.stop !== null) {
            stop = r.stop;
            break;
          }
        }
        out += m.flush();
        const want = reference(text, stops);
        assert.equal(out, want.text);
        assert.equal(stop, want.stop);
        assert.equal(m.stop, want.stop);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("StopMatcher holds back only what could start a stop string", () => {
  const m = new StopMatcher(["</s>", "###"]);
  assert.deepEqual(m.push("Hello <"), { text: "Hello ", stop: null });
  assert.deepEqual(m.push("b>##"), { text: "<b>", stop: null });
  assert.deepEqual(m.push("#x"), { text: "", stop: "###" });
  assert.deepEqual(m.push("more"), { text: "", stop: "###" });
  assert.equal(m.flush(), "");
  assert.throws(() => new StopMatcher([""]), FormatError);
});
