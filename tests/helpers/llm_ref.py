"""Tiny random transformers decoders written to GGUF the way llama.cpp's converter writes them,
and their reference logits computed in float64, for tests/llm/model_test.ts.

    llm_ref.py ARCH OUT_DIR STORIES_GGUF [HIDDEN]
ARCH: llama | qwen2 | qwen3. Writes OUT_DIR/f32.gguf, q8_0.gguf, q4_0.gguf (2-D weights quantized by
gguf-py, norms and biases f32) and prints {"ids", "logits"} (logits in float64 of the f32 model
over every position). The vocabulary (512 SentencePiece pieces) is copied from stories260K so that
llama.cpp loads the files. Weights are N(0, 0.1²) (norm weights U(0.5, 1.5)): small weights
would hide a missing Q/K permutation.
"""
import json, os, sys
import numpy as np
import torch
import transformers
import gguf

arch, out, stories = sys.argv[1], sys.argv[2], sys.argv[3]
H = int(sys.argv[4]) if len(sys.argv) > 4 else 64  # 256: rows of whole K-quant super-blocks
os.makedirs(out, exist_ok=True)
torch.manual_seed({"llama": 1, "qwen2": 2, "qwen3": 3}[arch])

r = gguf.GGUFReader(stories)
fields = r.fields
tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in fields["tokenizer.ggml.tokens"].data]
scores = [float(fields["tokenizer.ggml.scores"].parts[i][0]) for i in fields["tokenizer.ggml.scores"].data]
ttypes = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]
V = len(tokens)

common = dict(vocab_size=V, hidden_size=H, intermediate_size=2 * H, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, tie_word_embeddings=(arch == "qwen2"),
              bos_token_id=1, eos_token_id=2)
if arch == "llama":
    cfg = transformers.LlamaConfig(**common, rope_theta=10000.0)
    model = transformers.LlamaForCausalLM(cfg)
elif arch == "qwen2":
    cfg = transformers.Qwen2Config(**common, rope_theta=1000000.0)
    model = transformers.Qwen2ForCausalLM(cfg)
else:
    cfg = transformers.Qwen3Config(**common, head_dim=32, rope_theta=1000000.0)
    model = transformers.Qwen3ForCausalLM(cfg)
head_dim = getattr(cfg, "head_dim", None) or H // 4
with torch.no_grad():
    for n, p in model.named_parameters():
        if "norm" in n:
            p.uniform_(0.5, 1.5)
        else:
            p.normal_(0, 0.1)
model.eval()

g = torch.Generator().manual_seed(7)
ids = [1] + torch.randint(3, V, (71,), generator=g).tolist()
with torch.no_grad():
    logits = model.double()(torch.tensor([ids])).logits[0].numpy()


def permute(w, n_head):
    # convert_hf_to_gguf.py LlamaModel.permute: rotate-half order -> interleaved pairs
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
         "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
         "self_attn.k_norm": "attn_k_norm", "input_layernorm": "attn_norm",
         "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
         "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_tensors():
    sd = {k: v.float().numpy() for k, v in model.state_dict().items()}
    yield "token_embd.weight", sd["model.embed_tokens.weight"]
    yield "output_norm.weight", sd["model.norm.weight"]
    if not cfg.tie_word_embeddings:
        yield "output.weight", sd["lm_head.weight"]
    for i in range(cfg.num_hidden_layers):
        for hf, gg in NAMES.items():
            for kind in ("weight", "bias"):
                k = f"model.layers.{i}.{hf}.{kind}"
                if k not in sd:
                    continue
                w = sd[k]
                if arch == "llama" and hf == "self_attn.q_proj":
                    w = permute(w, cfg.num_attention_heads)
                if arch == "llama" and hf == "self_attn.k_proj":
                    w = permute(w, cfg.num_key_value_heads)
                yield f"blk.{i}.{gg}.{kind}", w


def write(path, qtype):
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"tiny-random-{arch}")
    w.add_context_length(256)
    w.add_embedding_length(H)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(2 * H)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    if arch == "qwen3":
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(float(cfg.rope_theta if hasattr(cfg, "rope_theta") else cfg.rope_parameters["rope_theta"]))
    w.add_file_type(0 if qtype is None else {"Q8_0": 7, "Q4_0": 2}[qtype])
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(ttypes)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    for name, t in gguf_tensors():
        t = np.ascontiguousarray(t, dtype=np.float32)
        if qtype is not None and t.ndim == 2:
            qt = getattr(gguf.GGMLQuantizationType, qtype)
            w.add_tensor(name, gguf.quants.quantize(t, qt), raw_dtype=qt)
        else:
            w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


write(f"{out}/f32.gguf", None)
write(f"{out}/q8_0.gguf", "Q8_0")
write(f"{out}/q4_0.gguf", "Q4_0")
json.dump({"ids": ids, "logits": logits.tolist()}, sys.stdout)
