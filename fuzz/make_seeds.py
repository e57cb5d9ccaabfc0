#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, generated (nothing binary is committed).

    python3 fuzz/make_seeds.py OUT_DIR [--tokenizer-json PATH]

Writes OUT_DIR/model, OUT_DIR/tokenizer and OUT_DIR/encode:
- model: tiny valid model.bin files (tests/make_checkpoint.py + export.py) of several shapes and
  weight types (f32, bf16, q8; tied; GQA and MQA; 1..4 loop steps; an early-exit step; no
  threshold), each also with the harness option byte (the header's last byte) varied, plus a
  few broken ones (short header, truncated, one byte too many).
- tokenizer: tiny valid tokenizer.bin files exported from tokenizer.json files made here (a few
  bytes, merges, added tokens, some bytes without a token), and, when the real tokenizer.json
  is at hand, one made of its first 600 tokens and the merges among them; plus a few inputs
  for the target's build mode (bytes that describe a tokenizer, then text).
- encode: a few strings of every category of tests/tokenizer/corpus.py (cut to 512 bytes).

Every seed is at most about 24 KiB (run.sh passes -max_len 32768 for the model target).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.dont_write_bytecode = True
import make_checkpoint as mc  # noqa: E402

EXPORT = os.path.join(ROOT, "export.py")

# (name, make_checkpoint options, export dtype)
MODELS = [
    ("bf16", dict(hidden=8, inter=16, layers=1, heads=2, vocab=16, steps=2, max_pos=32), "bf16"),
    ("f32", dict(hidden=8, inter=16, layers=1, heads=2, vocab=16, steps=3, max_pos=32), "fp32"),
    ("q8", dict(hidden=8, inter=16, layers=1, heads=2, vocab=16, steps=2, max_pos=32), "q8"),
    ("q8-gs4", dict(hidden=12, inter=20, layers=1, heads=3, kv_heads=1, vocab=8, steps=2, max_pos=24), "q8"),
    ("tied-gqa", dict(hidden=8, inter=8, layers=2, heads=4, kv_heads=2, head_dim=2, vocab=12, steps=2,
                      tied=True, max_pos=32), "bf16"),
    ("mqa-1step", dict(hidden=4, inter=8, layers=1, heads=2, kv_heads=1, vocab=8, steps=1, max_pos=2), "fp32"),
    ("exitstep", dict(hidden=8, inter=8, layers=1, heads=1, vocab=8, steps=4, early_exit_step=1,
                      threshold=None, max_pos=16, eos=3, bos=5), "bf16"),
    ("headdim6", dict(hidden=4, inter=4, layers=1, heads=2, head_dim=6, vocab=6, steps=2, max_pos=3), "q8"),
    # wide enough for whole 32-row panels and 16-float vectors of the fast kernels, with edges
    ("wide", dict(hidden=32, inter=48, layers=1, heads=2, vocab=40, steps=2, max_pos=24), "bf16"),
    ("wide-q8", dict(hidden=32, inter=48, layers=1, heads=2, vocab=40, steps=2, max_pos=24), "q8"),
    ("wide-f32", dict(hidden=24, inter=40, layers=1, heads=2, kv_heads=1, vocab=36, steps=1, max_pos=24), "fp32"),
]
OPTION_BYTES = (0x00, 0x01, 0x16, 0x2b, 0x45, 0x8c, 0xf3, 0x28, 0x39)  # bit 3: long mode


def export_models(out):
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ouro_seeds_")
    try:
        for seed, (name, opts, dtype) in enumerate(MODELS):
            ck = os.path.join(work, name)
            mc.make_checkpoint(ck, seed=seed + 1, **opts)
            path = os.path.join(work, name + ".bin")
            subprocess.run([sys.executable, EXPORT, ck, path, "--dtype", dtype], check=True,
                           stdout=subprocess.DEVNULL)
            data = open(path, "rb").read()
            for opt in OPTION_BYTES:
                b = bytearray(data)
                b[255] = opt
                write(out, "%s-%02x" % (name, opt), bytes(b))
            if name == "bf16":
                write(out, "bad-header", data[:100])
                write(out, "bad-truncated", data[:-1])
                write(out, "bad-longer", data + b"\0")
                b = bytearray(data)
                struct.pack_into("<i", b, 16, 1 << 20)   # n_layers out of range
                write(out, "bad-layers", bytes(b))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
# tokenizers

def byte_encoder():
    """GPT-2 byte-level alphabet, byte -> char."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, shift = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in keep:
            table[b] = chr(256 + shift)
            shift += 1
    return table


def tokenizer_json(vocab_bytes, merges, added):
    """vocab_bytes: list of raw bytes (id = index); merges: list of (a, b) byte strings;
    added: list of (content, special), given ids after the vocab."""
    be = byte_encoder()
    enc = lambda b: "".join(be[x] for x in b)  # noqa: E731
    vocab = {enc(b): i for i, b in enumerate(vocab_bytes)}
    return {
        "version": "1.0",
        "added_tokens": [{"id": len(vocab_bytes) + k, "content": c, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": s}
                         for k, (c, s) in enumerate(added)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [[enc(a), enc(b)] for a, b in merges]},
    }


def bpe_from_words(words, n_merges, alphabet):
    """Merges learned greedily from a few words (enough to make the BPE loop work)."""
    vocab = [bytes([b]) for b in alphabet]
    merges = []
    seqs = [[bytes([c]) for c in w] for w in words]
    for _ in range(n_merges):
        counts = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        if a + b not in vocab:
            vocab.append(a + b)
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if s[i] == a and s[i + 1] == b:
                    s[i:i + 2] = [a + b]
                i += 1
    return vocab, merges


TINY_TEXT = (b"the cat sat on the mat; the dog's bone is 123 meters away. hello hello world "
             b"they're here and it'll rain\n\n  indented  text\t")


def export_tokenizers(out, real_json):
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ouro_seeds_")
    jobs = []
    # 1: every ASCII printable byte plus \n \t, 40 merges, three added tokens
    alphabet = sorted(set(range(0x20, 0x7F)) | {0x0A, 0x09})
    words = [w for w in TINY_TEXT.replace(b"\n", b" ").split(b" ") if w]
    words = [b" " + w for w in words] + words
    vocab, merges = bpe_from_words(words, 40, alphabet)
    jobs.append(("ascii", tokenizer_json(vocab, merges, [("<|endoftext|>", True), ("<|im_start|>", True),
                                                         ("<|im_end|>", True), ("<think>", False)])))
    # 2: a handful of bytes, repeated merge pairs, UTF-8 pieces, no added tokens
    alphabet = [0x20, 0x61, 0x62, 0x63, 0xC3, 0xA9, 0xE4, 0xBD, 0xA0, 0x31, 0x0A]
    vocab, merges = bpe_from_words([b"abcabc", b" abc", b"\xc3\xa9\xc3\xa9", b"\xe4\xbd\xa0", b"aab"], 10, alphabet)
    jobs.append(("small", tokenizer_json(vocab, merges + merges[:2], [])))
    # 3: one token
    jobs.append(("one", tokenizer_json([b"a"], [], [])))
    # 4: added tokens only matter: overlapping contents, one made of bytes without tokens
    jobs.append(("added", tokenizer_json([b"<", b"|", b"a", b"b", b"<|"], [(b"<", b"|")],
                                         [("<|a|>", True), ("<|a", False), ("\x04\x06", True)])))
    if real_json and os.path.exists(real_json):
        with open(real_json, encoding="utf-8") as f:
            tj = json.load(f)
        keep = {s: i for s, i in tj["model"]["vocab"].items() if i < 600}
        ms = []
        for m in tj["model"]["merges"]:
            a, b = m.split(" ") if isinstance(m, str) else m
            if a in keep and b in keep and a + b in keep:
                ms.append([a, b])
        # the added tokens are ids 0..16 of the real vocabulary
        tj["added_tokens"] = [a for a in tj["added_tokens"] if a["id"] < 600]
        tj["model"]["vocab"], tj["model"]["merges"] = keep, ms
        jobs.append(("real600", tj))
    # build mode of fuzz_tokenizer.c (input not starting with OTOK): a description, then text
    rng = __import__("random").Random(5)
    for k in range(4):
        desc = bytes(rng.randrange(256) for _ in range(40 + 60 * k))
        write(out, "build-%d" % k, desc + TINY_TEXT[:40 * (k + 1)])
    try:
        for name, tj in jobs:
            src = os.path.join(work, name + ".json")
            with open(src, "w", encoding="utf-8") as f:
                json.dump(tj, f, ensure_ascii=False)
            dst = os.path.join(work, name + ".bin")
            subprocess.run([sys.executable, EXPORT, "--tokenizer", src, dst], check=True,
                           stdout=subprocess.DEVNULL)
            data = open(dst, "rb").read()
            write(out, name, data)
            if name == "ascii":
                write(out, "bad-truncated", data[:-1])
                write(out, "bad-header", data[:31])
                b = bytearray(data)
                struct.pack_into("<I", b, 8, 0xFFFFFFFF)  # vocab size
                write(out, "bad-vocab", bytes(b))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def encode_seeds(out, per_category=4, cut=512):
    os.makedirs(out, exist_ok=True)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "tokenizer", "corpus.py")],
                       check=True, capture_output=True, text=True)
    seen = {}
    for line in p.stdout.splitlines():
        row = json.loads(line)
        k = seen.get(row["cat"], 0)
        if k >= per_category:
            continue
        seen[row["cat"]] = k + 1
        write(out, "%s-%d" % (row["cat"], k), bytes.fromhex(row["hex"])[:cut])
    write(out, "bytes-all", bytes(range(256)))
    write(out, "chat", b"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 17*23?<|im_end|>\n"
                       b"<|im_start|>assistant\n<think>\n")


def write(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--tokenizer-json", default=os.environ.get("OURO_TOKENIZER_JSON")
                    or os.path.join(ROOT, "..", "shared", "tokenizer", "tokenizer.json"))
    a = ap.parse_args()
    export_models(os.path.join(a.out_dir, "model"))
    export_tokenizers(os.path.join(a.out_dir, "tokenizer"), a.tokenizer_json)
    encode_seeds(os.path.join(a.out_dir, "encode"))
    for sub in ("model", "tokenizer", "encode"):
        d = os.path.join(a.out_dir, sub)
        files = os.listdir(d)
        print("%s: %d seeds, %d bytes" % (d, len(files), sum(os.path.getsize(os.path.join(d, f)) for f in files)))


if __name__ == "__main__":
    main()
