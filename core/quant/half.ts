/**
 * IEEE half (f16) and bfloat16 conversion on raw little-endian bits, as ggml stores them in
 * block headers and F16/BF16 tensors. f32 → f16 rounds to nearest even (what ggml's F16C path
 * and `ggml_fp32_to_fp16` do); f16 → f32 is exact.
 *
 * @module
 */
import { toBF16Bits } from "../dtype.ts";

const h16 = new Float16Array(1);
const h16Bits = new Uint16Array(h16.buffer);
let bitsTable: Uint32Array | null = null;
let floatTable: Float32Array | null = null;

/** The f32 bits of f16 bits `h`, by integer arithmetic (JS numbers need not keep NaN bits). */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16, exp = (h >> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) {
    // ±Inf, or a NaN made quiet with its payload kept, as x86's vcvtph2ps (and so ggml) does
    return (sign | 0x7f800000 | (man ? 0x400000 : 0) | (man << 13)) >>> 0;
  }
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
  if (man === 0) return sign >>> 0;
  let e = 113; // subnormal: normalise the mantissa
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

function bits(): Uint32Array {
  if (bitsTable === null) {
    bitsTable = new Uint32Array(65536);
    for (let i = 0; i < 65536; i++) bitsTable[i] = halfToFloatBits(i);
  }
  return bitsTable;
}

/**
 * The f32 value of every f16 bit pattern (256 KiB, built on first use): block decoders read a
 * scale with one indexed load instead of a bit-twiddling conversion.
 *
 * @example
 * ```ts
 * import { halfTable } from "@aprender/compute/io";
 * console.log(halfTable()[0x3c00]); // 1
 * ```
 */
export function halfTable(): Float32Array {
  return floatTable ??= new Float32Array(bits().buffer);
}

/**
 * The f32 value of the f16 stored little-endian at `src[off]`, `src[off + 1]`.
 *
 * @example
 * ```ts
 * import { readHalf } from "@aprender/compute/io";
 * console.log(readHalf(new Uint8Array([0x00, 0x3c]), 0)); // 1
 * ```
 */
export function readHalf(src: Uint8Array, off: number): number {
  return halfTable()[src[off] | (src[off + 1] << 8)];
}

/**
 * The f16 bits of `x`, rounded to nearest even (overflow gives ±Inf, NaN stays NaN).
 *
 * @example
 * ```ts
 * import { halfBits } from "@aprender/compute/io";
 * console.log(halfBits(1).toString(16)); // "3c00"
 * ```
 */
export function halfBits(x: number): number {
  h16[0] = x;
  return h16Bits[0];
}

/**
 * Store `x` as little-endian f16 at `dst[off]`, `dst[off + 1]`.
 *
 * @example
 * ```ts
 * import { writeHalf } from "@aprender/compute/io";
 * const b = new Uint8Array(2);
 * writeHalf(b, 0, -2);
 * console.log(b); // Uint8Array [0, 192]
 * ```
 */
export function writeHalf(dst: Uint8Array, off: number, x: number): void {
  h16[0] = x;
  const h = h16Bits[0];
  dst[off] = h & 0xff;
  dst[off + 1] = h >>> 8;
}

/**
 * Decode a row of little-endian f16 values (`src.length / 2` of them) into `dst`.
 *
 * @example
 * ```ts
 * import { f16ToF32Row } from "@aprender/compute/io";
 * const out = new Float32Array(1);
 * f16ToF32Row(new Uint8Array([0x00, 0x3c]), out);
 * console.log(out[0]); // 1
 * ```
 */
export function f16ToF32Row(src: Uint8Array, dst: Float32Array): void {
  // through integer views: JS numbers may not keep a NaN's payload bits
  const t = bits();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = dst.length;
  for (let i = 0; i < n; i++) out[i] = t[src[2 * i] | (src[2 * i + 1] << 8)];
}

/**
 * Encode a row of f32 values as little-endian f16 (round to nearest even) into `dst`
 * (`2 * src.length` bytes).
 *
 * @example
 * ```ts
 * import { f32ToF16Row } from "@aprender/compute/io";
 * const out = new Uint8Array(2);
 * f32ToF16Row(new Float32Array([1]), out);
 * console.log(out); // Uint8Array [0, 60]
 * ```
 */
export function f32ToF16Row(src: Float32Array, dst: Uint8Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) {
    h16[0] = src[i];
    const h = h16Bits[0];
    dst[2 * i] = h & 0xff;
    dst[2 * i + 1] = h >>> 8;
  }
}

/**
 * Decode a row of little-endian bf16 values into `dst`.
 *
 * @example
 * ```ts
 * import { bf16ToF32Row } from "@aprender/compute/io";
 * const out = new Float32Array(1);
 * bf16ToF32Row(new Uint8Array([0x80, 0x3f]), out);
 * console.log(out[0]); // 1
 * ```
 */
export function bf16ToF32Row(src: Uint8Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = dst.length;
  for (let i = 0; i < n; i++) out[i] = ((src[2 * i] | (src[2 * i + 1] << 8)) << 16) >>> 0;
}

/**
 * Encode a row of f32 values as little-endian bf16 (round to nearest even, NaN kept quiet) into
 * `dst`, as gguf-py's and ggml's converters do.
 *
 * @example
 * ```ts
 * import { f32ToBF16Row } from "@aprender/compute/io";
 * const out = new Uint8Array(2);
 * f32ToBF16Row(new Float32Array([1]), out);
 * console.log(out); // Uint8Array [128, 63]
 * ```
 */
export function f32ToBF16Row(src: Float32Array, dst: Uint8Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const h = toBF16Bits(src[i]);
    dst[2 * i] = h & 0xff;
    dst[2 * i + 1] = h >>> 8;
  }
}
