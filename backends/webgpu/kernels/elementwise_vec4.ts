/**
 * WGSL of the elementwise fast paths: f32 maps four elements per thread with vec4 loads, and
 * same-dtype copies of contiguous 4-byte elements as vec4 words.
 *
 * @module
 */
import { DIVMOD, NAMES, type Plan, VARS } from "./elementwise.ts";
import { PRELUDE, prmDecl, THREAD, TID, WG } from "./wgsl.ts";

/**
 * The vec4 fast path: f32 operands that are contiguous like the output ("v"), a single element in
 * a buffer ("s") or a single element passed as a parameter ("p", no binding).
 */
export function vec4Code(p: Plan, kinds: readonly ("v" | "s" | "p")[], access: string): string {
  const k = kinds.length;
  const binding: number[] = [];
  let nb = 0;
  for (let j = 0; j < k; j++) binding.push(kinds[j] === "p" ? -1 : nb++);
  const args = (lane: string) =>
    kinds.map((kd, j) => (kd === "v" ? `v${j}.${lane}` : `s${j}`)).join(", ");
  const load = (kd: string, j: number) => {
    const w = `prm[${5 + j}]`;
    if (kd === "v") return `  let v${j} = ${NAMES[j]}[t + u32(${w})];`;
    if (kd === "s") return `  let s${j} = ${NAMES[j]}[u32(${w}) / 4u][u32(${w}) % 4u];`;
    return `  let s${j} = bitcast<f32>(${w});`;
  };
  return `
${
    kinds.map((kd, j) =>
      kd === "p"
        ? ""
        : `@group(0) @binding(${binding[j]}) var<storage, ${
          access[binding[j]] === "r" ? "read" : "read_write"
        }> ${NAMES[j]}: array<vec4<f32>>;`
    ).join("\n")
  }
@group(0) @binding(${nb}) var<storage, read_write> out: array<vec4<f32>>;
${prmDecl(nb + 1)}
${PRELUDE}
${DIVMOD}
fn f_op(${
    kinds.map((_, j) => `${VARS[j]}: f32`).join(", ")
  }, p0: f32, p1: f32, p2: f32, p3: f32) -> f32 {
  return ${p.expr};
}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
  let p0 = bitcast<f32>(prm[1]); let p1 = bitcast<f32>(prm[2]);
  let p2 = bitcast<f32>(prm[3]); let p3 = bitcast<f32>(prm[4]);
${kinds.map(load).join("\n")}
  out[t + u32(prm[${5 + k}])] = vec4<f32>(f_op(${args("x")}, p0, p1, p2, p3), f_op(${
    args("y")
  }, p0, p1, p2, p3), f_op(${args("z")}, p0, p1, p2, p3), f_op(${args("w")}, p0, p1, p2, p3));
}`;
}

/** Same-dtype copy of contiguous 4-byte elements, a vec4 word per thread. */
export function copy4Code(access: string): string {
  return `
@group(0) @binding(0) var<storage, ${
    access[0] === "r" ? "read" : "read_write"
  }> a: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;
${prmDecl(2)}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
  out[t + u32(prm[2])] = a[t + u32(prm[1])];
}`;
}
