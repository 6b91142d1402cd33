"""Writes a vocabulary-only GGUF for tokenizer tests, the way llama.cpp's converters do,
and prints the tokenizer.* metadata it wrote as JSON (GGUFReader takes ~20 s to read a
128k-token vocabulary back, so the values are recorded as they are handed to GGUFWriter).

usage: vocab_gguf.py KIND SOURCE OUT.gguf
  KIND stories: copy the metadata of a GGUF file (SOURCE), no tensors
  KIND spm:     a SentencePiece .model (SOURCE), as convert_hf_to_gguf's _create_vocab_sentencepiece
  KIND bpe:PRE: a Hugging Face tokenizer folder (SOURCE: tokenizer.json + tokenizer_config.json),
                as convert_hf_to_gguf's get_vocab_base, with tokenizer.ggml.pre = PRE
"""
import json
import os
import sys

import gguf

META = {}


class Recorder(gguf.GGUFWriter):
    """GGUFWriter that also records every tokenizer.* value it is given."""

    def add_key_value(self, key, val, vtype, sub_type=None):
        if key.startswith("tokenizer."):
            META[key] = [float(x) if isinstance(x, float) else x for x in val] \
                if isinstance(val, (list, tuple)) else val
        return super().add_key_value(key, val, vtype, sub_type)


def writer(out):
    # a tiny llama: llama.cpp reads the hyperparameters even for vocab_only
    w = Recorder(out, "llama")
    w.add_context_length(512)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    return w


def copy_gguf(src, out):
    r = gguf.GGUFReader(src)
    w = writer(out)
    for k, f in r.fields.items():
        if not k.startswith("tokenizer."):
            continue
        t = f.types[0]
        if t == gguf.GGUFValueType.ARRAY:
            w.add_array(k, f.contents())
        elif t == gguf.GGUFValueType.STRING:
            w.add_string(k, f.contents())
        else:
            w.add_key_value(k, f.contents(), t)
    return w


def spm(src, out):
    import sentencepiece as sp
    from sentencepiece import sentencepiece_model_pb2 as pb
    proc = sp.SentencePieceProcessor(model_file=src)
    m = pb.ModelProto()
    m.ParseFromString(open(src, "rb").read())
    toks, scores, types = [], [], []
    for i in range(proc.vocab_size()):
        toks.append(proc.id_to_piece(i))
        scores.append(proc.get_score(i))
        t = gguf.TokenType.NORMAL
        if proc.is_unknown(i):
            t = gguf.TokenType.UNKNOWN
        elif proc.is_control(i):
            t = gguf.TokenType.CONTROL
        elif proc.is_unused(i):
            t = gguf.TokenType.UNUSED
        elif proc.is_byte(i):
            t = gguf.TokenType.BYTE
        types.append(t)
    w = writer(out)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_add_space_prefix(m.normalizer_spec.add_dummy_prefix)
    w.add_bos_token_id(proc.bos_id())
    w.add_eos_token_id(proc.eos_id())
    w.add_unk_token_id(proc.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    return w


def looks_special(t):
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
            or (t.startswith("<｜") and t.endswith("｜>")) or (t.startswith("<unused") and t.endswith(">")))


def bpe(src, out, pre):
    tj = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
    cfg = json.load(open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8"))
    vocab = dict(tj["model"]["vocab"])
    added = {a["id"]: a for a in tj.get("added_tokens", [])}
    for i, a in added.items():
        vocab[a["content"]] = i
    n = max(vocab.values()) + 1
    rev = {i: t for t, i in vocab.items()}
    toks, types = [], []
    for i in range(n):
        if i not in rev:
            toks.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            a = added[i]
            if a["special"] or looks_special(a["content"]):
                toks.append(a["content"])
                types.append(gguf.TokenType.CONTROL)
            else:
                toks.append(a["content"])
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            toks.append(rev[i])
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    w = writer(out)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges(merges)

    def tid(key):
        v = cfg.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        return vocab.get(v) if v is not None else None
    if tid("bos_token") is not None:
        w.add_bos_token_id(tid("bos_token"))
    if tid("eos_token") is not None:
        w.add_eos_token_id(tid("eos_token"))
    if tid("pad_token") is not None:
        w.add_pad_token_id(tid("pad_token"))
    if "add_bos_token" in cfg:
        w.add_add_bos_token(bool(cfg["add_bos_token"]))
    if "chat_template" in cfg and isinstance(cfg["chat_template"], str):
        w.add_chat_template(cfg["chat_template"])
    return w


def main():
    kind, src, out = sys.argv[1:4]
    if kind == "stories":
        w = copy_gguf(src, out)
    elif kind == "spm":
        w = spm(src, out)
    elif kind.startswith("bpe:"):
        w = bpe(src, out, kind[4:])
    else:
        raise SystemExit(f"unknown kind {kind}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    json.dump(META, sys.stdout, ensure_ascii=False)


main()
