"""A tiny random Hugging Face checkpoint and its reference logits, for tests/io/gguf_convert_test.ts.

    hf_ref.py make DIR ARCH TOKENIZER_DIR   -> writes DIR (config.json, model.safetensors,
                                               tokenizer files) and prints {"ids", "logits"}
ARCH is llama or qwen2. Weights use std 0.2 so that a missing Q/K permutation changes the argmax.
"""
import json, shutil, sys
import torch
import transformers

d, arch, tok_dir = sys.argv[2], sys.argv[3], sys.argv[4]
torch.manual_seed(0)
tok = transformers.PreTrainedTokenizerFast.from_pretrained(tok_dir)
common = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
              bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
if arch == "llama":
    cfg = transformers.LlamaConfig(**common)
    model = transformers.LlamaForCausalLM(cfg)
else:
    cfg = transformers.Qwen2Config(**common)
    model = transformers.Qwen2ForCausalLM(cfg)
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0, 0.2)
    for n, p in model.named_parameters():
        if "norm" in n:
            p.uniform_(0.5, 1.5)
model.eval()
model.save_pretrained(d, safe_serialization=True)
tok.save_pretrained(d)
ids = tok("The quick brown fox jumps over", add_special_tokens=False)["input_ids"]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].tolist()
print(json.dumps({"ids": ids, "logits": logits}))
