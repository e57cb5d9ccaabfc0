#!/usr/bin/env python3
"""Train a byte-level BPE tokenizer and write it as a Hugging Face tokenizer.json (stdlib only).

    python3 demo/train_tokenizer.py build/demo/train.txt build/demo/tokenizer.json [--vocab-size 2048]

The pipeline is the one of the Ouro (SmolLM2) tokenizer, which is what ouro.c and export.py
implement: no normalizer; pre-tokenizer Sequence[Digits(individual_digits=true),
ByteLevel(add_prefix_space=false, use_regex=true)]; a BPE model without unk, byte fallback or
dropout; ByteLevel decoder. Ids 0, 1, 2 are the special tokens <|endoftext|>, <|im_start|>,
<|im_end|>; ids 3..258 are the 256 single bytes (GPT-2 byte-to-unicode alphabet, in byte
order); then one token per merge, in merge order.

Training pre-tokenizes exactly as the encoder will: special tokens are cut out first, every
digit becomes its own piece, then the GPT-2 split pattern runs on the rest. The training text
is ASCII, where the pattern below (\\p{L} -> [A-Za-z], \\p{N} -> [0-9]) is exact; non-ASCII
input is refused. Merges: repeatedly the most frequent adjacent pair (ties: the smaller pair
of strings), until --vocab-size tokens or no pair occurs --min-count times.
"""
import argparse
import collections
import json
import re

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
DIGIT = re.compile(r"([0-9])")


def byte_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, shift = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shift)
            shift += 1
    return table


def pretokenize(text):
    """The pieces the encoder's pre-tokenizer makes of ASCII text without special tokens."""
    for part in DIGIT.split(text):
        if part:
            yield from SPLIT.findall(part)


def word_counts(text):
    special = re.compile("|".join(re.escape(s) for s in SPECIALS))
    counts = collections.Counter()
    for segment in special.split(text):
        counts.update(pretokenize(segment))
    return counts


def train(counts, vocab_size, min_count):
    b2u = byte_to_unicode()
    words = [[b2u[b] for b in w.encode("ascii")] for w in counts]
    freqs = list(counts.values())
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    merges = []
    while len(vocab) < vocab_size:
        pairs = collections.Counter()
        for w, f in zip(words, freqs):
            for p in zip(w, w[1:]):
                pairs[p] += f
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < min_count:
            break
        a, b = best
        merged = a + b
        merges.append(best)
        if merged not in vocab:
            vocab[merged] = len(vocab)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i:i + 2] = [merged]
                i += 1
    return vocab, merges


def tokenizer_json(vocab, merges):
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, s in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--min-count", type=int, default=2)
    args = ap.parse_args()
    with open(args.input, encoding="utf-8") as f:
        text = f.read()
    if not text.isascii():
        raise SystemExit(f"{args.input}: the training text must be ASCII (the split pattern here is ASCII-only)")
    counts = word_counts(text)
    vocab, merges = train(counts, args.vocab_size, args.min_count)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {args.output}: {len(vocab)} tokens ({len(merges)} merges) from {len(counts)} distinct pieces")


if __name__ == "__main__":
    main()
