"""Tiny random gemma3 / phi3 / llama decoders from transformers written to GGUF the way
llama.cpp's convert_hf_to_gguf.py writes them, with float64 reference logits and final hidden
states, for tests/llm/engine_test.ts.

    llm_arch_ref.py OUT_DIR STORIES_GGUF ARCH...
ARCH: llama | gemma3 | phi3 (LongRoPE, partial rotary, fused qkv / gate_up). Writes
OUT_DIR/ARCH/f32.gguf and q8_0.gguf and prints {ARCH: {"ids", "logits", "hidden"}} (float64
logits and final-normed hidden states over every position of one 72-token sequence).
Converter details reproduced: gemma3 norm weights are stored as 1 + w (Gemma's RMSNorm
multiplies by 1 + w) and its linear rope scaling is written as rope.scaling.*; phi3's LongRoPE
factors become rope_factors_long/short.weight and rope.scaling.attn_factor; llama's Q/K rows are
permuted to interleaved pairs. Weights are N(0, 0.1²), norm weights U(0.5, 1.5) (gemma3:
U(-0.5, 0.5), as 1 + w).
"""
import json, math, os, sys
import numpy as np
import torch
import transformers
import gguf

out, stories, archs = sys.argv[1], sys.argv[2], sys.argv[3:]
r = gguf.GGUFReader(stories)
fields = r.fields
tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in fields["tokenizer.ggml.tokens"].data]
scores = [float(fields["tokenizer.ggml.scores"].parts[i][0]) for i in fields["tokenizer.ggml.scores"].data]
ttypes = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]
V = len(tokens)
H, HEADS, KV, HD = 128, 4, 2, 32


def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def build(arch):
    torch.manual_seed({"llama": 11, "gemma3": 12, "phi3": 13, "phi3-plain": 14}[arch])
    common = dict(vocab_size=V, hidden_size=H, intermediate_size=2 * H, num_attention_heads=HEADS,
                  num_key_value_heads=KV, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2,
                  pad_token_id=0)
    if arch == "llama":
        cfg = transformers.LlamaConfig(**common, num_hidden_layers=2, max_position_embeddings=256,
                                       head_dim=HD, tie_word_embeddings=False, rope_theta=10000.0)
        model = transformers.LlamaForCausalLM(cfg)
    elif arch == "gemma3":
        # 7 layers: 0-4 sliding, 5 global, 6 sliding (llama.cpp's pattern of 6); window 16 < 72
        cfg = transformers.Gemma3TextConfig(
            **common, num_hidden_layers=7, head_dim=HD, max_position_embeddings=256,
            query_pre_attn_scalar=HD, sliding_window=16, tie_word_embeddings=True,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(7)],
            rope_parameters={
                "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            })
        model = transformers.Gemma3ForCausalLM(cfg)
    else:
        half = int(HD * 0.5) // 2
        g = torch.Generator().manual_seed(5)
        cfg = transformers.Phi3Config(
            **common, num_hidden_layers=2, max_position_embeddings=512,
            original_max_position_embeddings=128, partial_rotary_factor=0.5,
            tie_word_embeddings=False, sliding_window=None,
            rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                             "short_factor": (1 + torch.rand(half, generator=g)).tolist(),
                             "long_factor": (1 + 3 * torch.rand(half, generator=g)).tolist()}
            if arch == "phi3" else {"rope_type": "default", "rope_theta": 10000.0})
        model = transformers.Phi3ForCausalLM(cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                if arch == "gemma3":
                    p.uniform_(-0.5, 0.5)
                else:
                    p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.1)
    model.eval()
    return cfg, model


def tensors(arch, cfg, model):
    sd = {k: v.double().numpy() for k, v in model.state_dict().items()}
    shift = 1.0 if arch == "gemma3" else 0.0  # Gemma3Model: norm_shift
    yield "token_embd.weight", sd["model.embed_tokens.weight"]
    yield "output_norm.weight", sd["model.norm.weight"] + shift
    if not cfg.tie_word_embeddings:
        yield "output.weight", sd["lm_head.weight"]
    if arch == "phi3":  # phi3-plain: no LongRoPE
        rp = cfg.rope_parameters
        yield "rope_factors_long.weight", np.array(rp["long_factor"], dtype=np.float32)
        yield "rope_factors_short.weight", np.array(rp["short_factor"], dtype=np.float32)
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.qkv_proj": "attn_qkv", "self_attn.o_proj": "attn_output",
             "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
             "input_layernorm": "attn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.gate_up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    if arch == "gemma3":
        names.update({"post_attention_layernorm": "post_attention_norm",
                      "pre_feedforward_layernorm": "ffn_norm",
                      "post_feedforward_layernorm": "post_ffw_norm"})
    else:
        names["post_attention_layernorm"] = "ffn_norm"
    for i in range(cfg.num_hidden_layers):
        for hf, gg in names.items():
            k = f"model.layers.{i}.{hf}.weight"
            if k not in sd:
                continue
            w = sd[k]
            if "norm" in hf:
                w = w + shift
            if arch == "llama" and hf == "self_attn.q_proj":
                w = permute(w, HEADS)
            if arch == "llama" and hf == "self_attn.k_proj":
                w = permute(w, KV)
            yield f"blk.{i}.{gg}.weight", w


def write(path, arch, cfg, model, qtype):
    w = gguf.GGUFWriter(path, arch.split("-")[0])
    w.add_name(f"tiny-random-{arch}")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(H)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(2 * H)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(1e-6)
    if arch == "gemma3":
        w.add_key_length(HD)
        w.add_value_length(HD)
        w.add_rope_freq_base(1000000.0)
        w.add_sliding_window(cfg.sliding_window)
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(8.0)
    elif arch.startswith("phi3"):
        w.add_rope_dimension_count(int(cfg.partial_rotary_factor * H) // HEADS)
        w.add_rope_freq_base(10000.0)
        if arch == "phi3":
            w.add_rope_scaling_orig_ctx_len(128)
            scale = 512 / 128
            w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(128)))
        w.add_sliding_window(0)
    else:
        w.add_key_length(HD)
        w.add_value_length(HD)
        w.add_rope_freq_base(10000.0)
    w.add_file_type(0 if qtype is None else 7)
    w.add_tokenizer_model("llama")
    toks, types = list(tokens), list(ttypes)
    if arch.startswith("phi3"):
        # llama.cpp's vocabulary loader looks these up for phi3 (absent, it fails to load)
        toks[-2:], types[-2:] = ["<|end|>", "<|endoftext|>"], [3, 3]
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    for name, t in tensors(arch, cfg, model):
        t = np.ascontiguousarray(t, dtype=np.float32)
        if qtype is not None and t.ndim == 2:
            qt = gguf.GGMLQuantizationType.Q8_0
            w.add_tensor(name, gguf.quants.quantize(t, qt), raw_dtype=qt)
        else:
            w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


res = {}
for arch in archs:
    cfg, model = build(arch)
    g = torch.Generator().manual_seed(7)
    ids = [1] + torch.randint(3, V, (71,), generator=g).tolist()
    with torch.no_grad():
        o = model.double()(torch.tensor([ids]), output_hidden_states=True)
    d = f"{out}/{arch}"
    os.makedirs(d, exist_ok=True)
    write(f"{d}/f32.gguf", arch, cfg, model, None)
    write(f"{d}/q8_0.gguf", arch, cfg, model, "Q8_0")
    res[arch] = {"ids": ids, "logits": o.logits[0].numpy().tolist(),
                 "hidden": o.hidden_states[-1][0].numpy().tolist()}
json.dump(res, sys.stdout)
