#!/usr/bin/env python3
"""Chat test: `./ouro -m chat -t 0` against the float64 reference fed the ChatML conversation.

    python3 tests/test_chat.py --ouro ./ouro --export export.py [--tokenizer-json PATH]

A random checkpoint with the real vocabulary (49152 tokens) and the real tokenizer.json is
exported; user turns are piped through stdin. The reference gets the whole conversation as
ids (ChatML text encoded by `ouro -m encode`, which tests/tokenizer checks against Hugging
Face, plus the assistant's own earlier tokens) and recomputes everything from scratch, so a
cache that lost or re-ran a turn would give different answers. The expected text is the
reference's tokens decoded here from tokenizer.json (byte-level alphabet undone, invalid
UTF-8 replaced by U+FFFD, control characters dropped, as ouro's streaming printer does).

The shared tokenizer.json is ../shared/tokenizer/tokenizer.json or $OURO_TOKENIZER_JSON;
without it the test is skipped, or fails when CI=true.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import make_checkpoint as mc  # noqa: E402
import reference as ref  # noqa: E402

IM_START, IM_END, EOT = 1, 2, 0


def byte_decoder():
    # GPT-2 byte-level alphabet: printable Latin-1 stands for itself, the other bytes were
    # moved to U+0100 and up, in byte order
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, shift = {chr(b): b for b in keep}, 0
    for b in range(256):
        if b not in keep:
            table[chr(256 + shift)] = b
            shift += 1
    return table


def decoder_from(tokenizer_json):
    with open(tokenizer_json, encoding="utf-8") as f:
        tj = json.load(f)
    bd = byte_decoder()
    pieces = {i: bytes(bd[c] for c in s) for s, i in tj["model"]["vocab"].items()}
    for a in tj["added_tokens"]:
        pieces[a["id"]] = a["content"].encode()

    def decode(ids):
        text = b"".join(pieces[i] for i in ids).decode("utf-8", errors="replace")
        return "".join(ch for ch in text if not (
            (ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F))
    return decode


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode(errors='replace')}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ouro", default="./ouro")
    ap.add_argument("--export", default="export.py")
    ap.add_argument("--tokenizer-json", default=os.environ.get("OURO_TOKENIZER_JSON")
                    or os.path.join(HERE, "..", "..", "shared", "tokenizer", "tokenizer.json"))
    args = ap.parse_args()
    if not os.path.exists(args.tokenizer_json):
        if os.environ.get("CI") == "true":
            print(f"FAIL chat: no tokenizer.json at {args.tokenizer_json}\n0 passed, 1 failed")
            return 1
        print(f"SKIP chat: no tokenizer.json at {args.tokenizer_json}\n0 passed, 0 failed, 1 skipped")
        return 0

    decode = decoder_from(args.tokenizer_json)
    passed = failed = 0
    work = tempfile.mkdtemp(prefix="ouro_chat_")
    try:
        ckpt = os.path.join(work, "ckpt")
        mc.main([ckpt, "--seed", "11", "--hidden", "16", "--inter", "24", "--layers", "2", "--heads", "2",
                 "--kv-heads", "1", "--vocab", "49152", "--steps", "3", "--eos", "0", "--dtype", "F32"])
        shutil.copy(args.tokenizer_json, os.path.join(ckpt, "tokenizer.json"))
        model = os.path.join(work, "model.bin")
        run([sys.executable, args.export, ckpt, model, "--dtype", "fp32"])
        tok = os.path.join(work, "tokenizer.bin")
        reference = ref.Model(ckpt)

        cases = [
            ("plain", [], "", ["Hello there", "What is 2+2?", "Tell me about loops <3"], 10),
            ("system prompt", ["-y", "You are a helpful assistant."], "You are a helpful assistant.",
             ["Bonjour, ça va ?", "", "x"], 6),
            ("think", ["-r"], "", ["Solve 12*12."], 12),
        ]
        for name, flags, system, turns, n in cases:
            out = run([args.ouro, model, "-m", "chat", "-t", "0", "-n", str(n)] + flags,
                      stdin=("\n".join(turns) + "\n").encode()).decode("utf-8", errors="strict")
            history, answers = [], []
            for k, msg in enumerate(turns):
                text = ("<|im_end|>\n" if k else "") + (f"<|im_start|>system\n{system}<|im_end|>\n" if system and k == 0 else "")
                text += f"<|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n" + ("<think>\n" if "-r" in flags else "")
                ids = [int(v) for v in run([args.ouro, "-m", "encode", "-z", tok, "-i", text]).split()]
                history += ids
                answer = []
                for _ in range(n):  # greedy, stop on <|im_end|> or <|endoftext|>
                    nxt = reference.diagnostics(history, positions=[len(history) - 1])[0]["top"]
                    if nxt in (IM_END, EOT):
                        break
                    answer.append(nxt)
                    history.append(nxt)
                answers.append(decode(answer))
            expected = "".join(a + "\n" for a in answers)
            ok = out == expected
            passed += ok
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} chat {name}: {len(turns)} turns, {len(history)} positions"
                  + ("" if ok else f"\n  expected {expected!r}\n  got      {out!r}"))

        # a context too small for the second turn ends the chat cleanly
        p = subprocess.run([args.ouro, model, "-m", "chat", "-t", "0", "-n", "4", "-c", "24"],
                           input=b"hi\nhello again, a longer turn\n", capture_output=True, timeout=60)
        ok = p.returncode == 0 and b"context" in p.stderr and p.stdout.count(b"\n") == 1
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} chat: full context ends the chat (rc {p.returncode}, {p.stderr.decode().strip()!r})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
