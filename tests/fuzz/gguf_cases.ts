/**
 * Hostile GGUF headers for the fuzzer and the regression tests: a raw field-by-field builder, a
 * seed corpus with llama.cpp's own corruption classes (`tests/test-gguf.cpp`: bad magic, versions
 * 1 and 4, n_tensors/n_kv = −1, bad key size, bad value type, duplicate key, alignment 13, name
 * ≥ 64 bytes, n_dims 5, negative or too-big dims, bad type, bad/misaligned/overlapping offsets,
 * one byte short) plus the CVE classes (wrapping counts and sizes, 2^60-byte claims), and
 * mutators.
 */
import { FormatError } from "../../core/errors.ts";
import { decodeGguf } from "../../io/gguf/read.ts";

/** Little-endian byte builder. */
export class Raw {
  private parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: bigint | number): this {
    let b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(b & 0xffn));
      b >>= 8n;
    }
    return this;
  }
  str(s: string, len?: bigint | number): this {
    const b = new TextEncoder().encode(s);
    this.u64(len ?? b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  bytes(n: number, v = 0): this {
    for (let i = 0; i < n; i++) this.parts.push(v);
    return this;
  }
  pad(a: number): this {
    while (this.parts.length % a) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

interface Kv {
  key: string;
  type: number;
  value: (r: Raw) => void;
}
interface Ti {
  name: string;
  dims: (bigint | number)[];
  type: number;
  offset: bigint | number;
  nDims?: number;
}

/** A GGUF file from raw parts (no checks: that is the point). */
export function gguf(o: {
  magic?: number;
  version?: number;
  nTensors?: bigint | number;
  nKv?: bigint | number;
  kvs?: Kv[];
  tis?: Ti[];
  alignment?: number;
  data?: number;
}): Uint8Array {
  const r = new Raw().u32(o.magic ?? 0x46554747).u32(o.version ?? 3);
  const kvs = o.kvs ?? [];
  const tis = o.tis ?? [];
  r.u64(o.nTensors ?? tis.length).u64(o.nKv ?? kvs.length);
  for (const kv of kvs) {
    r.str(kv.key).u32(kv.type);
    kv.value(r);
  }
  for (const t of tis) {
    r.str(t.name).u32(t.nDims ?? t.dims.length);
    for (const d of t.dims) r.u64(d);
    r.u32(t.type).u64(t.offset);
  }
  if (tis.length) r.pad(o.alignment ?? 32);
  r.bytes(o.data ?? 0, 0x3c);
  return r.build();
}

const u32kv = (key: string, v: number): Kv => ({ key, type: 4, value: (r) => r.u32(v) });
const strKv = (key: string, s: string): Kv => ({ key, type: 8, value: (r) => r.str(s) });

/** A valid file: metadata of several types and three tensors (f32, q8_0, q4_k). */
export function validFile(): Uint8Array {
  return gguf({
    kvs: [
      strKv("general.architecture", "llama"),
      u32kv("llama.block_count", 2),
      { key: "a.f32", type: 6, value: (r) => r.u32(0x3f800000) },
      {
        key: "a.arr",
        type: 9,
        value: (r) => r.u32(8).u64(2).str("ab").str("c"),
      },
      {
        key: "a.nested",
        type: 9,
        value: (r) => r.u32(9).u64(1).u32(0).u64(3).u8(1).u8(2).u8(3),
      },
      { key: "a.bool", type: 7, value: (r) => r.u8(1) },
      { key: "a.i64", type: 11, value: (r) => r.u64(-5n) },
    ],
    tis: [
      { name: "a", dims: [4, 2], type: 0, offset: 0 },
      { name: "b", dims: [32, 2], type: 8, offset: 32 },
      { name: "c", dims: [256], type: 12, offset: 128 },
    ],
    data: 128 + 144,
  });
}

/** llama.cpp's corruption classes and the CVE classes, each with the field its error names. */
export function hostileCorpus(): { what: string; bytes: Uint8Array; field: RegExp }[] {
  const t0 = { name: "w", dims: [32, 2], type: 8, offset: 0 };
  const out: { what: string; bytes: Uint8Array; field: RegExp }[] = [
    { what: "bad magic", bytes: gguf({ magic: 0x46554746 }), field: /magic/ },
    { what: "version 1", bytes: gguf({ version: 1 }), field: /version/ },
    { what: "version 4", bytes: gguf({ version: 4 }), field: /version/ },
    { what: "byte-swapped version", bytes: gguf({ version: 0x03000000 }), field: /version/ },
    { what: "n_tensors = -1", bytes: gguf({ nTensors: -1n }), field: /n_tensors/ },
    { what: "n_kv = -1", bytes: gguf({ nKv: -1n }), field: /n_kv/ },
    { what: "n_kv = 2^60", bytes: gguf({ nKv: 1n << 60n }), field: /n_kv/ },
    { what: "n_tensors = 2^62", bytes: gguf({ nTensors: 1n << 62n }), field: /n_tensors/ },
    {
      what: "key size 2^63",
      bytes: new Raw().u32(0x46554747).u32(3).u64(0).u64(1).u64(1n << 63n).bytes(40).build(),
      field: /key 0 length/,
    },
    {
      what: "key size wraps (2^64 - 1)",
      bytes: new Raw().u32(0x46554747).u32(3).u64(0).u64(1).u64(-1n).bytes(40).build(),
      field: /key 0 length/,
    },
    {
      what: "bad value type",
      bytes: gguf({ kvs: [{ key: "k", type: 13, value: (r) => r.u32(0) }] }),
      field: /type of "k"/,
    },
    {
      what: "value type 2^32 - 1",
      bytes: gguf({ kvs: [{ key: "k", type: 0xffffffff, value: (r) => r.u32(0) }] }),
      field: /type of "k"/,
    },
    {
      what: "duplicate key",
      bytes: gguf({ kvs: [u32kv("k", 1), u32kv("k", 2)] }),
      field: /key 1/,
    },
    {
      what: "empty key",
      bytes: gguf({ kvs: [u32kv("", 1)] }),
      field: /key 0/,
    },
    {
      what: "alignment 13",
      bytes: gguf({ kvs: [u32kv("general.alignment", 13)], tis: [t0], alignment: 13, data: 64 }),
      field: /general\.alignment/,
    },
    {
      what: "alignment 0",
      bytes: gguf({ kvs: [u32kv("general.alignment", 0)] }),
      field: /general\.alignment/,
    },
    {
      what: "alignment of type u64",
      bytes: gguf({ kvs: [{ key: "general.alignment", type: 10, value: (r) => r.u64(32) }] }),
      field: /general\.alignment/,
    },
    {
      what: "string array count 2^60",
      bytes: gguf({ kvs: [{ key: "k", type: 9, value: (r) => r.u32(8).u64(1n << 60n) }] }),
      field: /"k" count/,
    },
    {
      what: "u8 array count 2^60 (a 2^60-byte claim)",
      bytes: gguf({ kvs: [{ key: "k", type: 9, value: (r) => r.u32(0).u64(1n << 60n) }] }),
      field: /"k" count/,
    },
    {
      what: "u64 array count wrapping count × 8",
      bytes: gguf({ kvs: [{ key: "k", type: 9, value: (r) => r.u32(10).u64(1n << 61n) }] }),
      field: /"k" count/,
    },
    {
      what: "string length past the end",
      bytes: gguf({ kvs: [{ key: "k", type: 8, value: (r) => r.u64(1000) }] }),
      field: /value of "k" length/,
    },
    {
      what: "array item type 13",
      bytes: gguf({ kvs: [{ key: "k", type: 9, value: (r) => r.u32(13).u64(1) }] }),
      field: /"k" item type/,
    },
    {
      what: "nested arrays 200 deep",
      bytes: gguf({
        kvs: [{
          key: "k",
          type: 9,
          value: (r) => {
            for (let i = 0; i < 200; i++) r.u32(9).u64(1);
            r.u32(0).u64(0);
          },
        }],
      }),
      field: /deeper/,
    },
    {
      what: "bool byte 2",
      bytes: gguf({ kvs: [{ key: "k", type: 7, value: (r) => r.u8(2) }] }),
      field: /value of "k"/,
    },
    {
      what: "tensor name of 64 bytes",
      bytes: gguf({ tis: [{ ...t0, name: "x".repeat(64) }], data: 64 }),
      field: /tensor 0 name/,
    },
    {
      what: "duplicate tensor name",
      bytes: gguf({ tis: [t0, { ...t0, offset: 64 }], data: 128 }),
      field: /tensor 1 name/,
    },
    {
      what: "n_dims 5",
      bytes: gguf({ tis: [{ ...t0, dims: [32, 1, 1, 1, 2] }], data: 64 }),
      field: /n_dims of "w"/,
    },
    {
      what: "n_dims 2^32 - 1",
      bytes: gguf({ tis: [{ ...t0, nDims: 0xffffffff }], data: 64 }),
      field: /n_dims of "w"/,
    },
    {
      what: "negative dim",
      bytes: gguf({ tis: [{ ...t0, dims: [32, -2n] }], data: 64 }),
      field: /dim 1 of "w"/,
    },
    {
      what: "dims whose product overflows int64",
      bytes: gguf({ tis: [{ ...t0, dims: [1n << 32n, 1n << 32n] }], data: 64 }),
      field: /dim 1 of "w"/,
    },
    {
      what: "nelements × type size past 2^53",
      bytes: gguf({ tis: [{ ...t0, dims: [1n << 40n, 1n << 20n] }], data: 64 }),
      field: /dim 1 of "w"/,
    },
    {
      what: "a tensor claiming 2^55 bytes (2^52 f64 elements)",
      bytes: gguf({ tis: [{ ...t0, type: 28, dims: [1n << 26n, 1n << 26n] }], data: 64 }),
      field: /offset of "w"/,
    },
    ...[4, 5, 31, 36, 38, 40, 1000, 0xffffffff].map((type) => ({
      what: `tensor type ${type}`,
      bytes: gguf({ tis: [{ ...t0, type }], data: 64 }),
      field: new RegExp(`type of "w".*${type}`),
    })),
    {
      what: "row not a whole number of blocks",
      bytes: gguf({ tis: [{ ...t0, dims: [33, 2] }], data: 96 }),
      field: /dim 0 of "w"/,
    },
    {
      what: "misaligned offset",
      bytes: gguf({ tis: [{ ...t0, offset: 8 }], data: 96 }),
      field: /offset of "w"/,
    },
    {
      what: "offset past the end",
      bytes: gguf({ tis: [{ ...t0, offset: 1n << 40n }], data: 64 }),
      field: /offset of "w"/,
    },
    {
      what: "offset 2^64 - 32",
      bytes: gguf({ tis: [{ ...t0, offset: -32n }], data: 64 }),
      field: /offset of "w"/,
    },
    {
      what: "overlapping offsets",
      bytes: gguf({ tis: [t0, { ...t0, name: "v", offset: 32 }], data: 128 }),
      field: /offset of "v"/,
    },
    {
      what: "tensor data one byte short",
      bytes: gguf({ tis: [t0], data: 67 }),
      field: /offset of "w"/,
    },
  ];
  const v = validFile();
  for (let n = 0; n < v.length; n++) {
    out.push({ what: `valid file cut to ${n} bytes`, bytes: v.subarray(0, n), field: /./ });
  }
  return out;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [
  0n,
  1n,
  -1n,
  0x7fn,
  0x80n,
  0xffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  1n << 32n,
  1n << 53n,
  1n << 60n,
  1n << 62n,
  (1n << 63n) - 1n,
  1n << 63n,
];

/** One mutation of `src`: byte flips, interesting 4/8-byte values, cuts, inserts or splices. */
export function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const b = src.slice();
  const pos = () => Math.floor(r() * b.length);
  switch (Math.floor(r() * 6)) {
    case 0: {
      for (let k = 1 + Math.floor(r() * 4); k > 0; k--) b[pos()] ^= 1 << Math.floor(r() * 8);
      return b;
    }
    case 1: {
      const v = INTERESTING[Math.floor(r() * INTERESTING.length)];
      const w = r() < 0.5 ? 4 : 8;
      const p = Math.min(pos(), Math.max(0, b.length - w));
      let x = BigInt.asUintN(64, v);
      for (let i = 0; i < w && p + i < b.length; i++, x >>= 8n) b[p + i] = Number(x & 0xffn);
      return b;
    }
    case 2:
      return b.subarray(0, pos());
    case 3: {
      const p = pos(), n = 1 + Math.floor(r() * 16);
      const out = new Uint8Array(b.length + n);
      out.set(b.subarray(0, p));
      for (let i = 0; i < n; i++) out[p + i] = Math.floor(r() * 256);
      out.set(b.subarray(p), p + n);
      return out;
    }
    case 4: {
      const p = pos(), n = Math.floor(r() * 16);
      return Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + n)]);
    }
    default: {
      const p = pos(), q = pos(), n = Math.floor(r() * 12);
      b.copyWithin(p, q, q + n);
      return b;
    }
  }
}

/** Outcome of one case: parsed (and every tensor read), a typed rejection, or a defect. */
export type Outcome = "ok" | "format-error" | { defect: unknown };

/** Parse `bytes`; on success read and decode every tensor. Only FormatError may escape. */
export function runCase(bytes: Uint8Array): Outcome {
  try {
    const f = decodeGguf(bytes, "<fuzz>");
    for (const t of f.tensors) {
      f.readTensorBytes(t);
      if (t.nelements <= 1 << 16) f.readTensor(t.name).dispose();
    }
    return "ok";
  } catch (e) {
    return e instanceof FormatError ? "format-error" : { defect: e };
  }
}
