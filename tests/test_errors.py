#!/usr/bin/env python3
"""Bad inputs: every case must end with exit status 1, no signal, and one error line on stderr
that names the file or flag at fault.

    python3 tests/test_errors.py --ouro ./ouro --export export.py
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import make_checkpoint as mc  # noqa: E402

passed = failed = 0


def expect_error(name, cmd, must_mention, stdin=b""):
    """The command fails cleanly: status 1, not a signal, one line on stderr naming the culprit."""
    global passed, failed
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace").strip()
    lines = err.splitlines()
    ok = p.returncode == 1 and len(lines) == 1 and must_mention in err
    passed += ok
    failed += not ok
    print(f"{'PASS' if ok else 'FAIL'} {name}: rc {p.returncode}, {err!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ouro", default="./ouro")
    ap.add_argument("--export", default="export.py")
    args = ap.parse_args()
    ouro = args.ouro
    work = tempfile.mkdtemp(prefix="ouro_err_")
    try:
        ckpt = os.path.join(work, "ckpt")
        mc.main([ckpt, "--seed", "5", "--hidden", "16", "--inter", "32", "--layers", "2", "--heads", "2",
                 "--vocab", "64", "--steps", "3", "--max-pos", "64"])
        model = os.path.join(work, "model.bin")
        subprocess.run([sys.executable, args.export, ckpt, model, "--dtype", "bf16"], check=True, capture_output=True)
        data = open(model, "rb").read()

        def variant(name, blob):
            path = os.path.join(work, name)
            with open(path, "wb") as f:
                f.write(blob)
            return path

        def patched(offset, fmt, value):
            b = bytearray(data)
            struct.pack_into(fmt, b, offset, value)
            return bytes(b)

        ids = ["-m", "ids", "-t", "0", "-I", "1,2,3", "-n", "2"]
        # model.bin
        expect_error("truncated model", [ouro, variant("trunc.bin", data[:-100])] + ids, "trunc.bin")
        expect_error("header only", [ouro, variant("head.bin", data[:256])] + ids, "head.bin")
        expect_error("empty file", [ouro, variant("empty.bin", b"")] + ids, "empty.bin")
        expect_error("bad magic", [ouro, variant("magic.bin", b"GGUF" + data[4:])] + ids, "magic")
        expect_error("future version", [ouro, variant("ver.bin", patched(4, "<i", 7))] + ids, "version")
        expect_error("zero dim", [ouro, variant("dim.bin", patched(8, "<i", 0))] + ids, "dim")
        expect_error("negative layers", [ouro, variant("layers.bin", patched(16, "<i", -3))] + ids, "n_layers")
        expect_error("heads not a multiple of kv heads", [ouro, variant("kv.bin", patched(24, "<i", 3))] + ids, "n_kv_heads")
        expect_error("odd head_dim", [ouro, variant("hd.bin", patched(28, "<i", 7))] + ids, "head_dim")
        expect_error("huge vocab", [ouro, variant("vocab.bin", patched(32, "<i", 1 << 30))] + ids, "vocab_size")
        expect_error("extra bytes", [ouro, variant("extra.bin", data + b"\0" * 64)] + ids, "extra.bin")
        expect_error("missing file", [ouro, os.path.join(work, "nope.bin")] + ids, "nope.bin")
        expect_error("directory as model", [ouro, work] + ids, work)
        # flags
        expect_error("unknown flag", [ouro, model, "-q", "1"], "-q")
        expect_error("missing value", [ouro, model, "-n"], "-n")
        expect_error("negative -n", [ouro, model, "-n", "-5"] + ids[:-2], "-n")
        expect_error("nan temperature", [ouro, model, "-t", "nan", "-I", "1"], "-t")
        expect_error("top-p above 1", [ouro, model, "-p", "2", "-I", "1"], "-p")
        expect_error("zero context", [ouro, model, "-c", "0", "-I", "1"], "-c")
        expect_error("context above max", [ouro, model, "-c", "65", "-I", "1"], "-c")
        expect_error("-u 0", [ouro, model, "-u", "0", "-I", "1"], "-u")
        expect_error("-u above steps", [ouro, model, "-u", "4", "-I", "1", "-m", "ids"], "-u")
        expect_error("not a number", [ouro, model, "-n", "12abc", "-I", "1"], "-n")
        expect_error("unknown mode", [ouro, model, "-m", "train", "-I", "1"], "-m")
        expect_error("id out of range", [ouro, model, "-m", "ids", "-I", "1,64"], "64")
        expect_error("negative id", [ouro, model, "-m", "ids", "-I", "1,-2"], "-I")
        expect_error("not ids", [ouro, model, "-m", "ids", "-I", "1,,2"], "-I")
        expect_error("prompt longer than context", [ouro, model, "-m", "ids", "-c", "4", "-I", "1,2,3,4,5"], "context")
        expect_error("missing tokenizer", [ouro, model, "-i", "hello", "-z", os.path.join(work, "tok.bin")], "tok.bin")
        expect_error("missing prompt file", [ouro, model, "-f", os.path.join(work, "p.txt"), "-m", "ids"], "p.txt")
        # export.py
        bad = os.path.join(work, "bad")
        mc.main([bad, "--hidden", "16", "--inter", "32", "--layers", "2", "--heads", "2", "--vocab", "64",
                 "--drop-tensor", "model.layers.1.mlp.down_proj.weight"])
        out = os.path.join(work, "bad.bin")
        expect_error("export: missing tensor", [sys.executable, args.export, bad, out], "model.layers.1.mlp.down_proj.weight")
        expect_error("export: not a directory", [sys.executable, args.export, os.path.join(work, "none"), out], "none")
        expect_error("export: bad dtype", [sys.executable, args.export, ckpt, out, "--dtype", "int4"], "--dtype")
        # safetensors damage: a corrupt header, a truncated data section, an unsupported dtype
        st = os.path.join(ckpt, "model.safetensors")
        raw = open(st, "rb").read()
        (hlen,) = struct.unpack_from("<Q", raw)
        header = raw[8:8 + hlen]

        def broken_ckpt(name, blob):
            d = os.path.join(work, name)
            shutil.copytree(ckpt, d)
            with open(os.path.join(d, "model.safetensors"), "wb") as f:
                f.write(blob)
            return d
        expect_error("export: corrupt safetensors header",
                     [sys.executable, args.export, broken_ckpt("hdr", raw[:8] + b"[" + raw[9:]), out], "header")
        expect_error("export: header length past the end",
                     [sys.executable, args.export, broken_ckpt("hlen", struct.pack("<Q", len(raw)) + raw[8:]), out], "header")
        expect_error("export: truncated data section",
                     [sys.executable, args.export, broken_ckpt("trunc", raw[:-1000]), out], "truncated")
        # the first tensor's dtype becomes I16, padded with a space to keep the header's length
        at = header.index(b'"dtype":"') + len(b'"dtype":"')
        end = header.index(b'"', at)
        odd = header[:at] + b'I16"' + b" " * (end - at - 3) + header[end + 1:]
        expect_error("export: unsupported dtype",
                     [sys.executable, args.export, broken_ckpt("dtype", raw[:8] + odd + raw[8 + hlen:]), out], "I16")
        # tokenizer.bin
        def tok_variant(name, blob):
            path = os.path.join(work, name)
            with open(path, "wb") as f:
                f.write(blob)
            return [ouro, "-m", "encode", "-z", path, "-i", "hello"]
        good_header = b"OTOK" + struct.pack("<7I", 1, 4, 0, 0, 4, 1, 0)
        expect_error("tokenizer: bad magic", tok_variant("t1.bin", b"GPT2" + good_header[4:]), "magic")
        expect_error("tokenizer: future version", tok_variant("t2.bin", b"OTOK" + struct.pack("<7I", 9, 4, 0, 0, 4, 1, 0)), "version")
        expect_error("tokenizer: truncated", tok_variant("t3.bin", good_header + struct.pack("<5I", 0, 1, 2, 3, 4)), "t3.bin")
        expect_error("tokenizer: too short", tok_variant("t4.bin", b"OTOK"), "t4.bin")
        expect_error("tokenizer: directory", [ouro, "-m", "encode", "-z", work, "-i", "x"], work)
        left = os.path.exists(out) or os.path.exists(out + ".tmp")
        print(f"{'FAIL' if left else 'PASS'} export leaves no output behind after errors")
        globals()["passed" if not left else "failed"] += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
