/**
 * Hostile safetensors headers for the fuzzer and the regression tests: a valid seed file, the
 * format's promises broken one at a time (length past the file or over 100 MB, invalid UTF-8,
 * duplicate keys, unknown dtypes, sizes that disagree with offsets, holes, overlaps, tails,
 * non-object JSON, deep nesting), and JSON-aware mutators. A case whose header parses is then
 * loaded whole (`decodeSafetensors`) and read back.
 */
import { ComputeError, FormatError } from "../../core/errors.ts";
import { decodeSafetensors } from "../../io/safetensors.ts";
import { parseSafetensorsHeader } from "../../io/safetensors_lazy.ts";

/** A safetensors file from a header string and a data section of `data` bytes. */
export function stBytes(header: string, data: number, hlen?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const b = new Uint8Array(8 + h.length + data);
  new DataView(b.buffer).setBigUint64(0, hlen ?? BigInt(h.length), true);
  b.set(h, 8);
  return b;
}

const E = (dtype: string, shape: number[], b: number, e: number) =>
  JSON.stringify({ dtype, shape, data_offsets: [b, e] });

/** A valid file: metadata and three tensors. */
export function validSt(): Uint8Array {
  return stBytes(
    `{"__metadata__":{"format":"pt"},"a":${E("F32", [2, 2], 0, 16)},"b":${
      E("BF16", [3], 16, 22)
    },"c":${E("I64", [1], 22, 30)}}`,
    30,
  );
}

/** Broken files with the message each must give. */
export function hostileSt(): { what: string; bytes: Uint8Array; msg: RegExp }[] {
  const ok = `"a":${E("F32", [1], 0, 4)}`;
  return [
    { what: "7-byte file", bytes: new Uint8Array(7), msg: /header length alone/ },
    { what: "header length 2^63", bytes: stBytes(`{${ok}}`, 4, 1n << 63n), msg: /exceeds/ },
    { what: "header length past the file", bytes: stBytes(`{${ok}}`, 4, 1000n), msg: /exceeds/ },
    {
      what: "invalid UTF-8",
      bytes: (() => {
        const b = stBytes(`{"\u00e9":1}`, 0);
        b[10] = 0xff;
        return b;
      })(),
      msg: /UTF-8/,
    },
    { what: "not an object", bytes: stBytes(`[1,2]`, 0), msg: /start with/ },
    { what: "bad JSON", bytes: stBytes(`{"a":`, 0), msg: /valid JSON/ },
    { what: "duplicate tensor", bytes: stBytes(`{${ok},${ok}}`, 4), msg: /duplicate key "a"/ },
    {
      what: "duplicate field",
      bytes: stBytes(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4),
      msg: /duplicate key "dtype"/,
    },
    { what: "unknown dtype", bytes: stBytes(`{"a":${E("Q4", [1], 0, 4)}}`, 4), msg: /dtype/ },
    {
      what: "dtype __proto__",
      bytes: stBytes(`{"a":${E("__proto__", [1], 0, 4)}}`, 4),
      msg: /dtype/,
    },
    { what: "negative dim", bytes: stBytes(`{"a":${E("F32", [-1], 0, 4)}}`, 4), msg: /shape/ },
    {
      what: "size ≠ span",
      bytes: stBytes(`{"a":${E("F32", [2], 0, 4)}}`, 4),
      msg: /data_offsets/,
    },
    {
      what: "2^60-element shape",
      bytes: stBytes(`{"a":${E("F32", [2 ** 30, 2 ** 30], 0, 4)}}`, 4),
      msg: /data_offsets/,
    },
    { what: "hole", bytes: stBytes(`{"a":${E("F32", [1], 4, 8)}}`, 8), msg: /hole/ },
    {
      what: "overlap",
      bytes: stBytes(`{${ok},"b":${E("F32", [1], 2, 6)}}`, 6),
      msg: /overlap|hole/,
    },
    { what: "tail", bytes: stBytes(`{${ok}}`, 9), msg: /after the last/ },
    {
      what: "offsets past the end",
      bytes: stBytes(`{"a":${E("F32", [1], 0, 4)}}`, 2),
      msg: /data_offsets/,
    },
    { what: "entry not an object", bytes: stBytes(`{"a":5}`, 0), msg: /not an object/ },
    {
      what: "metadata not strings",
      bytes: stBytes(`{"__metadata__":{"k":1}}`, 0),
      msg: /__metadata__/,
    },
    {
      what: "nesting 100000 deep",
      bytes: stBytes(`{"a":${"[".repeat(100000)}${"]".repeat(100000)}}`, 0),
      msg: /nests deeper than 64 levels/,
    },
  ];
}

const NUMS = ["0", "-1", "4", "1e308", "9007199254740993", "4294967296", "1.5", "null", '"x"'];

/** One JSON-aware or byte-level mutation. */
export function mutateSt(src: Uint8Array, r: () => number): Uint8Array {
  const hlen = src.length < 8
    ? Infinity
    : Number(new DataView(src.buffer, src.byteOffset, 8).getBigUint64(0, true));
  if (r() < 0.5 || hlen > src.length - 8) {
    const b = src.slice();
    const k = Math.floor(r() * b.length);
    if (r() < 0.3) return b.subarray(0, k);
    b[k] ^= 1 << Math.floor(r() * 8);
    return b;
  }
  let text = new TextDecoder().decode(src.subarray(8, 8 + hlen));
  const data = src.length - 8 - hlen;
  const nums = [...text.matchAll(/-?\d+/g)];
  const pick = r();
  if (pick < 0.5 && nums.length) {
    const m = nums[Math.floor(r() * nums.length)];
    text = text.slice(0, m.index) + NUMS[Math.floor(r() * NUMS.length)] +
      text.slice(m.index! + m[0].length);
  } else if (pick < 0.7) {
    text = text.replace(
      /"(F32|BF16|I64)"/,
      ['"F16"', '"U8"', '"F64"', '"BOOL"'][Math.floor(r() * 4)],
    );
  } else if (pick < 0.85) {
    text = text.replace(/"b":/, '"a":');
  } else {
    return stBytes(text, Math.max(0, data + Math.floor(r() * 9) - 4));
  }
  return stBytes(text, data);
}

/** Parse the header (only FormatError may escape), then load the file whole and read it back. */
export function runStCase(b: Uint8Array): "ok" | "format-error" | { defect: unknown } {
  try {
    parseSafetensorsHeader(b.length, (p, n) => b.subarray(p, p + n), "<fuzz>");
  } catch (e) {
    return e instanceof FormatError ? "format-error" : { defect: e };
  }
  // A header the parser accepted must load whole: every tensor reads back as many elements as
  // its shape holds (a typed error for a dtype we do not hold counts as handled).
  let file;
  try {
    file = decodeSafetensors(b);
  } catch (e) {
    return e instanceof ComputeError ? "format-error" : { defect: e };
  }
  try {
    for (const [name, t] of Object.entries(file.tensors)) {
      if (t.dataSync().length !== t.size) return { defect: `accepted garbage: ${name}` };
    }
    return "ok";
  } finally {
    for (const t of Object.values(file.tensors)) t.dispose();
  }
}
