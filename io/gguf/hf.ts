/**
 * Convert a Hugging Face llama / qwen2 checkpoint directory (config.json, *.safetensors,
 * tokenizer) to GGUF the way llama.cpp's `convert_hf_to_gguf.py` does: its tensor names, the
 * Q/K row permutation llama's rotary layout needs (not for qwen2, whose rope is NEOX-style), the
 * hyper-parameters under `<arch>.*`, and the tokenizer. Tensors stream one at a time from the
 * lazily opened safetensors files.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";
import { type LazySafetensors, openSafetensors } from "../safetensors_lazy.ts";
import { hfTokenizerMetadata } from "./hf_tokenizer.ts";
import { chooseType } from "./quantize.ts";
import type { GgufTensorType } from "./types.ts";
import { type GgufTensorInput, type GgufValueInput, saveGguf } from "./write.ts";

const ARCHS: Record<string, "llama" | "qwen2"> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "llama",
  Qwen2ForCausalLM: "qwen2",
};

/**
 * HF tensor name → GGUF tensor name (null: not stored, e.g. rotary caches).
 *
 * @example
 * ```ts
 * import { ggufTensorName } from "@aprender/compute/io";
 * console.log(ggufTensorName("model.layers.3.mlp.down_proj.weight")); // "blk.3.ffn_down.weight"
 * ```
 */
export function ggufTensorName(hf: string): string | null {
  const m = hf.match(/^model\.layers\.(\d+)\.(.+)$/);
  if (m) {
    const map: Record<string, string> = {
      "input_layernorm.weight": "attn_norm.weight",
      "self_attn.q_proj.weight": "attn_q.weight",
      "self_attn.k_proj.weight": "attn_k.weight",
      "self_attn.v_proj.weight": "attn_v.weight",
      "self_attn.o_proj.weight": "attn_output.weight",
      "self_attn.q_proj.bias": "attn_q.bias",
      "self_attn.k_proj.bias": "attn_k.bias",
      "self_attn.v_proj.bias": "attn_v.bias",
      "post_attention_layernorm.weight": "ffn_norm.weight",
      "mlp.gate_proj.weight": "ffn_gate.weight",
      "mlp.up_proj.weight": "ffn_up.weight",
      "mlp.down_proj.weight": "ffn_down.weight",
    };
    if (m[2] === "self_attn.rotary_emb.inv_freq") return null;
    const g = map[m[2]];
    if (g === undefined) throw new FormatError(`convert: unknown tensor ${hf}`);
    return `blk.${m[1]}.${g}`;
  }
  const top: Record<string, string> = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
  };
  if (top[hf] === undefined) throw new FormatError(`convert: unknown tensor ${hf}`);
  return top[hf];
}

/**
 * llama.cpp's `permute` of Q/K rows: within each head, the interleaved (re, im) rotary pairs of
 * the HF layout become the two halves GGUF's llama rope expects.
 *
 * @example
 * ```ts
 * import { permuteQK } from "@aprender/compute/io";
 * console.log(permuteQK(Float32Array.from([0, 1, 2, 3]), 4, 1, 1)); // Float32Array [0, 2, 1, 3]
 * ```
 */
export function permuteQK(
  w: Float32Array,
  rows: number,
  cols: number,
  heads: number,
): Float32Array {
  const out = new Float32Array(w.length);
  const half = rows / heads / 2;
  for (let h = 0; h < heads; h++) {
    for (let two = 0; two < 2; two++) {
      for (let r = 0; r < half; r++) {
        const src = h * 2 * half + two * half + r; // (head, two, half) in HF order
        const dst = h * 2 * half + r * 2 + two; // swapaxes(1, 2)
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** Options of {@link convertHf}. */
export interface ConvertOptions {
  /** Type of 2-D weights (default f32; f16, bf16 or any quantizable block type). */
  type?: GgufTensorType;
  /** Progress: (tensors done, total, name). */
  onProgress?: (done: number, total: number, name: string) => void;
}

/**
 * Convert the checkpoint directory `dir` to the GGUF file `out`.
 *
 * @example
 * ```ts ignore
 * import { convertHf } from "@aprender/compute/io";
 * await convertHf("./TinyLlama-1.1B", "tinyllama.gguf", { type: "q8_0" });
 * ```
 */
export async function convertHf(dir: string, out: string, options: ConvertOptions = {}) {
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  const arch = ARCHS[(config.architectures ?? [])[0]];
  if (arch === undefined) {
    throw new FormatError(
      `convert: ${dir}: architecture ${config.architectures} is not supported; hint: ` +
        `${Object.keys(ARCHS).join(", ")}`,
    );
  }
  const nHead = config.num_attention_heads, nKv = config.num_key_value_heads ?? nHead;
  const hidden = config.hidden_size;
  const headDim = config.head_dim ?? hidden / nHead;
  const meta = new Map<string, GgufValueInput>([
    ["general.architecture", arch],
    ["general.name", dir.split("/").filter(Boolean).pop() ?? "model"],
    [`${arch}.vocab_size`, config.vocab_size],
    [`${arch}.context_length`, config.max_position_embeddings],
    [`${arch}.embedding_length`, hidden],
    [`${arch}.block_count`, config.num_hidden_layers],
    [`${arch}.feed_forward_length`, config.intermediate_size],
    [`${arch}.rope.dimension_count`, headDim],
    [`${arch}.attention.head_count`, nHead],
    [`${arch}.attention.head_count_kv`, nKv],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: "f32", value: config.rms_norm_eps }],
    [`${arch}.rope.freq_base`, { type: "f32", value: config.rope_theta ?? 10000 }],
    ["general.file_type", { type: "u32", value: 0 }],
  ]);
  for (const [k, v] of await hfTokenizerMetadata(dir, arch, config)) meta.set(k, v);
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".safetensors")) files.push(e.name);
  files.sort();
  if (files.length === 0) throw new FormatError(`convert: ${dir} has no .safetensors files`);
  const opened: LazySafetensors[] = [];
  try {
    const tensors: GgufTensorInput[] = [];
    const seen = new Set<string>();
    for (const f of files) {
      const st = await openSafetensors(`${dir}/${f}`);
      opened.push(st);
      for (const e of st.entries.values()) {
        const name = ggufTensorName(e.name);
        if (name === null) continue;
        if (seen.has(name)) throw new FormatError(`convert: ${e.name} appears twice`);
        seen.add(name);
        const shape = e.shape;
        const isQ = name.endsWith("attn_q.weight"), isK = name.endsWith("attn_k.weight");
        const permute = arch === "llama" && (isQ || isK);
        tensors.push({
          name,
          shape,
          type: chooseType(name, shape, "f32", options.type ?? "f32"),
          data: () => {
            const w = st.readF32(e.name);
            return permute ? permuteQK(w, shape[0], shape[1] ?? 1, isQ ? nHead : nKv) : w;
          },
        });
      }
    }
    // llama.cpp's order: token_embd, then block by block, then output_norm and output
    const rank = (n: string) =>
      n === "token_embd.weight" ? -1 : n.startsWith("blk.") ? Number(n.split(".")[1]) : 1e9;
    tensors.sort((a, b) => rank(a.name) - rank(b.name));
    await saveGguf(out, {
      metadata: meta,
      tensors,
      onProgress: (d, n) => options.onProgress?.(d, n, tensors[d - 1].name),
    });
  } finally {
    for (const st of opened) st.close();
  }
}
