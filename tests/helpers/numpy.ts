/**
 * Differential testing against NumPy: run NumPy expressions on our tensors' exact values in one
 * Python process per batch, and compare results (dtype, shape, values with explicit tolerances).
 *
 * When NumPy is missing the tests that need it are ignored locally, but under CI=true a missing
 * reference is a failure.
 */
import assert from "node:assert/strict";
import { ALL_DTYPES, type DType, type Tensor } from "../../mod.ts";
import { fromBF16Bits } from "../../internal.ts";

const candidates = [Deno.env.get("APRENDER_PYTHON"), ".venv-ref/bin/python", "python3"];

function findPython(): string | null {
  for (const c of candidates) {
    if (!c) continue;
    try {
      const r = new Deno.Command(c, {
        args: ["-c", "import numpy"],
        stdout: "null",
        stderr: "null",
      })
        .outputSync();
      if (r.success) return c;
    } catch { /* not there */ }
  }
  return null;
}

/** The Python interpreter with NumPy, or null. */
export const PYTHON: string | null = findPython();

if (!PYTHON && Deno.env.get("CI") === "true") {
  throw new Error("CI=true but no Python with NumPy was found: reference tests cannot run.");
}

/** Deno.test options that ignore a test when NumPy is missing (never in CI: see above). */
export const needsNumpy: { ignore: boolean } = { ignore: PYTHON === null };

function hasModule(mod: string): boolean {
  if (!PYTHON) return false;
  const r = new Deno.Command(PYTHON, {
    args: ["-c", `import ${mod}`],
    stdout: "null",
    stderr: "null",
  })
    .outputSync();
  return r.success;
}

/** Whether the reference Python has PyTorch (CPU). */
export const HAS_TORCH: boolean = hasModule("torch");

if (!HAS_TORCH && Deno.env.get("CI") === "true") {
  throw new Error("CI=true but the reference Python has no torch: gradient tests cannot run.");
}

/**
 * Deno.test options that ignore a test when PyTorch is missing (never in CI). Cases run with the
 * same `numpy()` harness: put `import torch` in the case's `setup` and return NumPy arrays
 * (`t.detach().numpy()`).
 */
export const needsTorch: { ignore: boolean } = { ignore: !HAS_TORCH };

/** Every dtype NumPy has (all of ours but bf16). */
export const NUMPY_DTYPES: readonly DType[] = ALL_DTYPES.filter((d) => d !== "bf16");

/** NumPy's name for one of our dtypes ("float32", "int8", "bool"; bf16 is computed as float32). */
export function npName(d: DType): string {
  if (d === "bf16") return "float32";
  return d === "bool" ? "bool" : d.replace("f", "float").replace(/^i/, "int").replace(/^u/, "uint");
}

/** One reference computation: named input arrays and a Python expression over them. */
export interface RefCase {
  /** Python expression, e.g. `np.add(a, b)`; may return a tuple/list of arrays. */
  expr: string;
  /** Named inputs (each becomes a NumPy array of the same dtype and values; bf16 as float32). */
  arrays?: Record<string, Tensor>;
  /** Named Python scalars/lists (JSON). */
  scalars?: Record<string, unknown>;
  /** Statements run before `expr` (e.g. helper definitions). */
  setup?: string;
}

/** A NumPy result. */
export interface RefArray {
  /** Our dtype name for NumPy's result dtype ("u64" if NumPy returned uint64). */
  dtype: DType | "u64";
  /** Shape. */
  shape: number[];
  /** Values as float64 (booleans 0/1). */
  values: Float64Array;
}

/** What one case returned: arrays, or the error NumPy raised. */
export interface RefResult {
  /** Set when NumPy raised. */
  error?: string;
  /** The result arrays (one unless the expression returned a tuple/list). */
  results: RefArray[];
  /** Whether the expression returned a tuple/list. */
  many: boolean;
}

function rawBytes(t: Tensor): Uint8Array {
  const d = t.dataSync();
  if (t.dtype === "bf16") {
    const f = Float32Array.from(d as Uint16Array, (b) => fromBF16Bits(b));
    return new Uint8Array(f.buffer);
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function decode(bytes: Uint8Array, dtype: string, n: number): Float64Array {
  const buf = bytes.slice().buffer;
  let arr: ArrayLike<number | bigint>;
  switch (dtype) {
    case "f32":
      arr = new Float32Array(buf, 0, n);
      break;
    case "f64":
      arr = new Float64Array(buf, 0, n);
      break;
    case "f16":
      arr = new Float16Array(buf, 0, n);
      break;
    case "i8":
      arr = new Int8Array(buf, 0, n);
      break;
    case "u8":
    case "bool":
      arr = new Uint8Array(buf, 0, n);
      break;
    case "i16":
      arr = new Int16Array(buf, 0, n);
      break;
    case "u16":
      arr = new Uint16Array(buf, 0, n);
      break;
    case "i32":
      arr = new Int32Array(buf, 0, n);
      break;
    case "u32":
      arr = new Uint32Array(buf, 0, n);
      break;
    case "i64":
      arr = new BigInt64Array(buf, 0, n);
      break;
    case "u64":
      arr = new Float64Array(buf, 0, n);
      break;
    default:
      throw new Error(`unknown dtype ${dtype}`);
  }
  return Float64Array.from(arr as ArrayLike<number>, (v) => Number(v));
}

/**
 * Evaluate reference cases with NumPy, all in one Python process.
 *
 * ```ts
 * const [r] = await numpy([{ expr: "np.add(a, b)", arrays: { a, b } }]);
 * ```
 */
export async function numpy(cases: RefCase[]): Promise<RefResult[]> {
  if (!PYTHON) throw new Error("NumPy is not available");
  const chunks: Uint8Array[] = [];
  let pos = 0;
  const header = {
    cases: cases.map((c) => ({
      expr: c.expr,
      setup: c.setup ?? "",
      scalars: c.scalars ?? {},
      arrays: Object.fromEntries(
        Object.entries(c.arrays ?? {}).map(([k, t]) => {
          const b = rawBytes(t);
          chunks.push(b);
          const meta = { dtype: t.dtype, shape: [...t.shape], offset: pos };
          pos += b.byteLength;
          return [k, meta];
        }),
      ),
    })),
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const input = new Uint8Array(4 + head.length + pos);
  new DataView(input.buffer).setUint32(0, head.length, true);
  input.set(head, 4);
  let p = 4 + head.length;
  for (const c of chunks) {
    input.set(c, p);
    p += c.length;
  }
  const script = new URL("./numpy_ref.py", import.meta.url).pathname;
  const child = new Deno.Command(PYTHON, {
    args: [script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(input);
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`numpy_ref.py failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const buf = out.stdout;
  const n = new DataView(buf.buffer, buf.byteOffset).getUint32(0, true);
  const meta = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + n)));
  const body = buf.subarray(4 + n);
  return meta.cases.map(
    (
      c: {
        error?: string;
        results?: { dtype: string; shape: number[]; offset: number; nbytes: number }[];
        many?: boolean;
      },
    ) => {
      if (c.error) return { error: c.error, results: [], many: false };
      return {
        many: c.many!,
        results: c.results!.map((r) => {
          const size = r.shape.reduce((a, b) => a * b, 1);
          return {
            dtype: r.dtype as DType,
            shape: r.shape,
            values: decode(body.subarray(r.offset, r.offset + r.nbytes), r.dtype, size),
          };
        }),
      };
    },
  );
}

/** Explicit tolerances: |a - e| ≤ atol + rtol·|e|. */
export interface Tolerance {
  /** Relative tolerance (default 1e-5 for f32, 1e-12 for f64, 1e-3 for f16, 1e-2 for bf16, 0 for ints/bool). */
  rtol?: number;
  /** Absolute tolerance (default 0 for ints, 1e-6 f32, 1e-12 f64, 1e-3 f16, 1e-2 bf16). */
  atol?: number;
  /** Check that our dtype equals NumPy's (default true). */
  dtype?: boolean;
}

const DEFAULT_TOL: Record<string, [number, number]> = {
  f32: [1e-5, 1e-6],
  f64: [1e-12, 1e-12],
  f16: [1e-3, 1e-3],
  bf16: [1e-2, 1e-2],
};

/**
 * Assert our tensor matches a NumPy result: same shape, same dtype (unless disabled), and values
 * within tolerance. NaN must be NaN in both; infinities must match exactly; a NaN we produce where
 * NumPy has a number always fails.
 */
export function assertMatches(
  actual: Tensor,
  expected: RefArray,
  tol: Tolerance = {},
  what = "",
): void {
  const label = what ? `${what}: ` : "";
  assert.deepEqual(
    [...actual.shape],
    expected.shape,
    `${label}shape ${JSON.stringify(actual.shape)} vs numpy ${JSON.stringify(expected.shape)}`,
  );
  if (tol.dtype !== false) {
    assert.equal(
      actual.dtype,
      expected.dtype,
      `${label}dtype ${actual.dtype} vs numpy ${expected.dtype}`,
    );
  }
  const [rd, ad] = DEFAULT_TOL[actual.dtype] ?? [0, 0];
  const rtol = tol.rtol ?? rd, atol = tol.atol ?? ad;
  const got = toF64(actual);
  const exp = expected.values;
  for (let i = 0; i < exp.length; i++) {
    const a = got[i], e = exp[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) && Number.isNaN(a)) continue;
      assert.fail(`${label}element ${i}: got ${a}, numpy ${e} (NaN mismatch)`);
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a === e) continue;
      assert.fail(`${label}element ${i}: got ${a}, numpy ${e}`);
    }
    if (Math.abs(a - e) > atol + rtol * Math.abs(e)) {
      assert.fail(
        `${label}element ${i}: got ${a}, numpy ${e} (|diff| ${
          Math.abs(a - e)
        } > ${atol} + ${rtol}·|e|)`,
      );
    }
  }
}

/** Our tensor's values as float64 (bf16 decoded, bool 0/1, i64 as numbers). */
export function toF64(t: Tensor): Float64Array {
  const d = t.dataSync();
  if (t.dtype === "bf16") return Float64Array.from(d as Uint16Array, (b) => fromBF16Bits(b));
  return Float64Array.from(d as ArrayLike<number>, (v) => Number(v));
}
