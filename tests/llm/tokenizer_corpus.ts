import fc from "fast-check";

/**
 * Strings for the tokenizer reference tests: hand-picked edge cases plus seeded random mixes of
 * fragments (unicode, emoji, CJK, whitespace runs, code, digits, special-token spellings).
 */

const HAND: string[] = [
  "",
  " ",
  "  ",
  "   ",
  "\n",
  "\n\n",
  "\t",
  " \t \n ",
  "Hello world",
  " Hello world",
  "Hello  world",
  "Hello   world  ",
  "hello\nworld",
  "hello\n\n\nworld\n",
  "  leading and trailing  ",
  "The quick brown fox jumps over the lazy dog.",
  "I'm sure you'll see they've done what we'd say he's DONE'S IT'LL",
  "don't won't can't shan't 'tis 'twas",
  "1 12 123 1234 12345 123456 1234567",
  "3.14159 2,718 1e-9 0x1F -42 +7",
  "Ünïcödé façade naïve coöperate résumé",
  "Straße grüßen ÄÖÜ äöü",
  "Привет, мир! Как дела?",
  "Γειά σου Κόσμε",
  "你好，世界！今天天气很好。",
  "日本語のテキストとカタカナ",
  "한국어 텍스트입니다",
  "مرحبا بالعالم",
  "שלום עולם",
  "नमस्ते दुनिया",
  "สวัสดีชาวโลก",
  "emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
  "🤖🤖🤖",
  "a\u0301e\u0301 combining",
  "nbsp\u00a0here and\u2003em space",
  "next\u0085line",
  "bom\ufeffinside",
  "ideographic\u3000space",
  "zero\u200bwidth\u200djoiner",
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "function f(x) { return x * 2; } // comment",
  "const a = [1, 2, 3].map((x) => x ** 2);",
  "if (a && b || !c) { x += 1; } else { y -= 2; }",
  '<html><body><p class="x">Hi</p></body></html>',
  "SELECT * FROM users WHERE id = 42;",
  "https://example.com/path?q=1&r=2#frag",
  "user@example.com",
  "$100 €50 £20 ¥1000",
  "!!!???...,,,;;;:::",
  "--- *** ___ === +++",
  "((([[[{{{}}}]]])))",
  "tabs\tbetween\twords",
  "\t\tindented\n\t\t\tmore",
  "    four spaces",
  "trailing spaces    ",
  "line\r\nwindows\r\n",
  "carriage\rreturn",
  "<s>",
  "</s>",
  "<unk>",
  "<s>Hello</s>",
  "Hello <s> world </s> end",
  "<|begin_of_text|>Hi<|eot_id|>",
  "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
  "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>",
  "<think>\nhmm\n</think>\n\nanswer",
  '<tool_call>{"name": "f"}</tool_call>',
  "[INST] hi [/INST]",
  "<|endoftext|>",
  "<<s>>",
  "<s><s></s></s>",
  "a<s>b",
  " <s> ",
  "ＡＢＣ　全角",
  "ﬁ ligature",
  "ℌ𝔢𝔩𝔩𝔬 𝕎𝕠𝕣𝕝𝕕",
  "a" + "a".repeat(200),
  " ".repeat(40) + "x",
  "\n".repeat(20),
  "1".repeat(50),
  "ab".repeat(60),
  "Mixed CASE WoRdS and camelCase and snake_case and SCREAMING_CASE",
  "HTTPServer XMLHttpRequest iPhone eBay",
  "can't\nwon't\n'quoted'\n\"double\"",
  "'s 't 're 've 'm 'll 'd",
  "'S 'T 'RE 'VE 'M 'LL 'D",
  "x'sy 'S'",
];

const FRAGMENTS: string[] = [
  "the",
  " the",
  "Hello",
  " world",
  "I'm",
  "we'll",
  " don't",
  "  ",
  "   ",
  "\n",
  "\n\n",
  "\t",
  " \n",
  "123",
  "4567",
  "3.5",
  "你好",
  "世界",
  "日本",
  "😀",
  "👍🏽",
  "🇯🇵",
  "é",
  "ñ",
  "Ω",
  "Ж",
  "ع",
  "क",
  "ก",
  "=",
  "==",
  "=>",
  "(",
  ")",
  "{",
  "}",
  ";",
  ".",
  ",",
  "!",
  "?",
  "'",
  '"',
  "//",
  "#",
  "_",
  "-",
  "<s>",
  "</s>",
  "<|eot_id|>",
  "<|im_end|>",
  "<think>",
  "x",
  "A",
  "Zz",
  "QUIZ",
  "\u00a0",
  "\u3000",
  "\u0301",
  "def",
  " return",
  "    ",
];

/** A small seeded generator (xorshift32) so the corpus is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * The corpus: the hand-picked strings, `extra` random mixes of 1..12 fragments and `unicode`
 * seeded fast-check strings over all of Unicode (any code point but lone surrogates).
 *
 * @param extra how many fragment mixes to add
 * @param unicode how many arbitrary Unicode strings to add
 */
export function tokenizerCorpus(extra = 240, unicode = 100): string[] {
  const r = rng(20261207);
  const out = [...HAND];
  for (let i = 0; i < extra; i++) {
    const n = 1 + Math.floor(r() * 12);
    let s = "";
    for (let k = 0; k < n; k++) s += FRAGMENTS[Math.floor(r() * FRAGMENTS.length)];
    out.push(s);
  }
  const any = fc.string({ unit: "grapheme-composite", maxLength: 24 });
  const wide = fc.string({ unit: "binary", maxLength: 16 });
  out.push(...fc.sample(fc.oneof(any, wide), { seed: 20261207, numRuns: unicode }));
  return out;
}
