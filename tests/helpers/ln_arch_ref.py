"""Tiny random GPT-2 and BERT models from transformers written to GGUF the way llama.cpp's
convert_hf_to_gguf.py writes them (GPT2Model, BertModel), with float64 references, for
tests/llm/ln_arch_test.ts.

    ln_arch_ref.py OUT_DIR TEXTS.json
Writes OUT_DIR/gpt2.gguf (tied output), gpt2-untied.gguf, bert.gguf, bert-q8_0.gguf,
nomic-bert.gguf (random N(0, 0.1²) weights written directly under llama.cpp's names: transformers
has no NomicBert class, so llama.cpp is its only reference) and prints
{"gpt2": {"ids", "logits"}, "gpt2-untied": {...}, "bert": {"ids", "mean", "cls"}}:
GPT-2 logits over every position of one 72-token sequence; for each of TEXTS, the ids of
transformers' BertTokenizer over the test's WordPiece vocabulary and the BertModel embedding
(float64) pooled by mean (sentence-transformers' default) and by CLS, L2-normalized.
Vocabularies are trained here with Hugging Face tokenizers on a fixed English text: byte-level
BPE (gpt-2 pre-tokenizer) and WordPiece laid out like bert-base ([PAD] 0, [unused*] 1-99,
[UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103). Weights are N(0, 0.1²), LayerNorm weights
U(0.5, 1.5).
"""
import json, os, sys
import numpy as np
import torch
import transformers
import gguf
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

out = sys.argv[1]
texts = json.load(open(sys.argv[2]))
os.makedirs(out, exist_ok=True)

CORPUS = """In the beginning God created the heaven and the earth. And the earth was without form,
and void; and darkness was upon the face of the deep. The quick brown fox jumps over the lazy dog.
A cat sat on the mat, and the dog barked at it! Machine learning models turn text into vectors;
embeddings of similar sentences are close. Numbers like 12, 345 and 6789 appear too. Don't stop:
we'll see what they've done. Résumé, café, naïve and façade have accents. The Lord is my shepherd;
I shall not want. He maketh me to lie down in green pastures. Tensors, matrices and vectors are
arrays of numbers. What is the capital of France? Paris is the capital of France.""" * 3


def init(model):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ("ln_" in n or "LayerNorm" in n) and n.endswith("weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.1)
    model.eval()


def gpt2_vocab():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tr = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([CORPUS], tr)
    j = json.loads(tok.to_str())
    vocab = sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1])
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    return [t for t, _ in vocab], merges


def write_gpt2(path, cfg, model, tokens, merges, eot):
    w = gguf.GGUFWriter(path, "gpt2")
    # GPT2Model.set_gguf_parameters
    w.add_block_count(cfg.n_layer)
    w.add_context_length(cfg.n_positions)  # config.json "n_ctx" (= n_positions)
    w.add_embedding_length(cfg.n_embd)
    w.add_feed_forward_length(4 * cfg.n_embd)
    w.add_head_count(cfg.n_head)
    w.add_layer_norm_eps(cfg.layer_norm_epsilon)
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if i == eot else gguf.TokenType.NORMAL
                       for i in range(len(tokens))])
    w.add_token_merges(merges)
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, cfg.n_layer)
    for name, t in model.state_dict().items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue  # tied: the HF checkpoint has no lm_head
        if name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            t = t.transpose(1, 0)  # Conv1D stores [in, out]
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, name
        w.add_tensor(new, np.ascontiguousarray(t.float().numpy()))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gpt2(name, tied, seed):
    tokens, merges = gpt2_vocab()
    eot = tokens.index("<|endoftext|>")
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=len(tokens), n_positions=128, n_embd=64, n_layer=2,
                                  n_head=4, activation_function="gelu_new",
                                  layer_norm_epsilon=1e-5, tie_word_embeddings=tied,
                                  bos_token_id=eot, eos_token_id=eot)
    model = transformers.GPT2LMHeadModel(cfg)
    init(model)
    if tied:
        assert model.lm_head.weight is model.transformer.wte.weight
    write_gpt2(f"{out}/{name}.gguf", cfg, model, tokens, merges, eot)
    g = torch.Generator().manual_seed(seed + 100)
    ids = [t for t in torch.randint(0, len(tokens), (90,), generator=g).tolist() if t != eot][:72]
    with torch.no_grad():
        logits = model.double()(torch.tensor([ids])).logits[0].numpy()
    return {"ids": ids, "logits": logits.tolist()}


def bert_vocab():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tr = trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials, show_progress=False)
    tok.train_from_iterator([CORPUS], tr)
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    words = [t for t, _ in vocab]
    assert words[:104] == specials, words[:110]
    return words


def write_bert(path, cfg, model, words, qtype):
    w = gguf.GGUFWriter(path, "bert")
    # TextModel.set_gguf_parameters + BertModel.set_gguf_parameters
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_head_count(cfg.num_attention_heads)
    w.add_layer_norm_eps(cfg.layer_norm_eps)
    w.add_file_type(0 if qtype is None else 7)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)  # modules.json of a sentence-transformers model
    # BertModel.set_vocab: phantom-space tokens, control tokens as they are
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in words]
    w.add_token_type_count(cfg.type_vocab_size)
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list([t if ty == gguf.TokenType.CONTROL else (t[2:] if t.startswith("##") else "\u2581" + t)
                      for t, ty in zip(words, types)])
    w.add_token_types(types)
    # special ids and add_*_token flags from the saved HF tokenizer, as the converter does
    gguf.SpecialVocab(f"{out}/bert-tokenizer", n_vocab=len(words)).add_to_gguf(w)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, cfg.num_hidden_layers)
    for name, t in model.state_dict().items():
        if name in ("embeddings.position_ids",) or name.startswith("pooler."):
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, name
        a = np.ascontiguousarray(t.float().numpy())
        if qtype is not None and a.ndim == 2 and new != "position_embd.weight" \
                and new != "token_types.weight":
            q = gguf.GGMLQuantizationType.Q8_0
            w.add_tensor(new, gguf.quants.quantize(a, q), raw_dtype=q)
        else:
            w.add_tensor(new, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_nomic(path, words):
    rng = np.random.default_rng(41)
    H, F, L = 64, 128, 2
    n = lambda *shape: rng.normal(0, 0.1, shape).astype(np.float32)
    u = lambda *shape: rng.uniform(0.5, 1.5, shape).astype(np.float32)
    w = gguf.GGUFWriter(path, "nomic-bert")
    w.add_context_length(128)
    w.add_embedding_length(H)
    w.add_feed_forward_length(F)
    w.add_block_count(L)
    w.add_head_count(4)
    w.add_layer_norm_eps(1e-12)
    w.add_rope_freq_base(1000.0)
    w.add_file_type(0)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_token_type_count(2)
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in words]
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list([t if ty == gguf.TokenType.CONTROL else (t[2:] if t.startswith("##") else "\u2581" + t)
                      for t, ty in zip(words, types)])
    w.add_token_types(types)
    gguf.SpecialVocab(f"{out}/bert-tokenizer", n_vocab=len(words)).add_to_gguf(w)
    w.add_tensor("token_embd.weight", n(len(words), H))
    w.add_tensor("token_types.weight", n(2, H))
    w.add_tensor("token_embd_norm.weight", u(H))
    w.add_tensor("token_embd_norm.bias", n(H))
    for i in range(L):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_qkv.weight", n(3 * H, H))
        w.add_tensor(p + "attn_output.weight", n(H, H))
        w.add_tensor(p + "attn_output_norm.weight", u(H))
        w.add_tensor(p + "attn_output_norm.bias", n(H))
        w.add_tensor(p + "ffn_up.weight", n(F, H))
        w.add_tensor(p + "ffn_gate.weight", n(F, H))
        w.add_tensor(p + "ffn_down.weight", n(H, F))
        w.add_tensor(p + "layer_output_norm.weight", u(H))
        w.add_tensor(p + "layer_output_norm.bias", n(H))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def bert():
    words = bert_vocab()
    vf = f"{out}/vocab.txt"
    open(vf, "w").write("\n".join(words) + "\n")
    hf_tok = transformers.BertTokenizerFast(vf, do_lower_case=True)
    hf_tok.save_pretrained(f"{out}/bert-tokenizer")
    torch.manual_seed(21)
    cfg = transformers.BertConfig(vocab_size=len(words), hidden_size=64, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=128,
                                  max_position_embeddings=128, type_vocab_size=2,
                                  hidden_act="gelu", layer_norm_eps=1e-12)
    model = transformers.BertModel(cfg, add_pooling_layer=False)
    init(model)
    write_bert(f"{out}/bert.gguf", cfg, model, words, None)
    write_bert(f"{out}/bert-q8_0.gguf", cfg, model, words, "Q8_0")
    write_nomic(f"{out}/nomic-bert.gguf", words)
    model = model.double()
    res = {"ids": [], "mean": [], "cls": []}
    for t in texts:
        ids = hf_tok(t)["input_ids"]
        with torch.no_grad():
            h = model(torch.tensor([ids])).last_hidden_state[0]
        mean = h.mean(0)
        res["ids"].append(ids)
        res["mean"].append((mean / mean.norm()).tolist())
        res["cls"].append((h[0] / h[0].norm()).tolist())
    return res


json.dump({"gpt2": gpt2("gpt2", True, 31), "gpt2-untied": gpt2("gpt2-untied", False, 32),
           "bert": bert()}, sys.stdout)
