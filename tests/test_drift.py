#!/usr/bin/env python3
"""How far the lossy options drift from the exact path: q8 weights against bf16 weights, and a
bf16 key/value cache against the float32 one, on the end-to-end test shapes.

    python3 tests/test_drift.py --ouro ./ouro --export export.py

For each shape: logits of a 24-token prompt, relative RMS of the difference (RMS of the
difference over RMS of the exact logits) and the share of positions whose top-1 token agrees;
and whether 16 greedy tokens agree. Prints a table (the numbers README quotes) and fails only
on drift far beyond quantization noise (relative RMS > 0.25 or top-1 agreement < 50%),
which would mean a broken kernel rather than rounding.
"""
import argparse
import array
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import make_checkpoint as mc  # noqa: E402

SHAPES = [  # (name, make_checkpoint options); BF16 weights so the bf16 export is the exact model
    ("mha d64", ["--hidden", "64", "--inter", "128", "--layers", "2", "--heads", "4", "--vocab", "256"]),
    ("gqa d128 T3", ["--hidden", "128", "--inter", "256", "--layers", "3", "--heads", "8", "--kv-heads", "2",
                     "--steps", "3", "--vocab", "512"]),
    ("tied d96 hd32", ["--hidden", "96", "--inter", "192", "--layers", "2", "--heads", "4", "--head-dim", "32",
                       "--tied", "--vocab", "384"]),
    ("mqa d256 L4", ["--hidden", "256", "--inter", "512", "--layers", "4", "--heads", "8", "--kv-heads", "1",
                     "--vocab", "1024"]),
]


def logits(ouro, model, ids, extra, vocab):
    out = tempfile.mktemp()
    subprocess.run([ouro, model, "-m", "logits", "-I", ids, "-o", out] + extra, check=True, capture_output=True)
    a = array.array("f")
    with open(out, "rb") as f:
        a.frombytes(f.read())
    os.remove(out)
    return [a[i:i + vocab] for i in range(0, len(a), vocab)]


def greedy(ouro, model, ids, extra):
    p = subprocess.run([ouro, model, "-m", "ids", "-t", "0", "-I", ids, "-n", "16"] + extra,
                       check=True, capture_output=True, text=True)
    return p.stdout.split()


def compare(exact, other):
    num = sum((a - b) ** 2 for ra, rb in zip(exact, other) for a, b in zip(ra, rb))
    den = sum(a * a for ra in exact for a in ra)
    top = sum(max(range(len(ra)), key=ra.__getitem__) == max(range(len(rb)), key=rb.__getitem__)
              for ra, rb in zip(exact, other))
    return math.sqrt(num / den), top / len(exact)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ouro", default="./ouro")
    ap.add_argument("--export", default="export.py")
    args = ap.parse_args()
    passed = failed = 0
    work = tempfile.mkdtemp(prefix="ouro_drift_")
    rows = []
    try:
        for k, (name, opts) in enumerate(SHAPES):
            ckpt = os.path.join(work, f"c{k}")
            mc.main([ckpt, "--seed", str(300 + k), "--dtype", "BF16"] + opts)
            vocab = int(opts[opts.index("--vocab") + 1])
            models = {}
            for dtype in ("bf16", "q8"):
                models[dtype] = os.path.join(work, f"c{k}_{dtype}.bin")
                subprocess.run([sys.executable, args.export, ckpt, models[dtype], "--dtype", dtype],
                               check=True, capture_output=True)
            ids = ",".join(str((37 * i * i + 11 * i + k) % vocab) for i in range(24))
            exact = logits(args.ouro, models["bf16"], ids, [], vocab)
            q8 = logits(args.ouro, models["q8"], ids, [], vocab)
            kv = logits(args.ouro, models["bf16"], ids, ["-k", "bf16"], vocab)
            q8_rms, q8_top = compare(exact, q8)
            kv_rms, kv_top = compare(exact, kv)
            g_exact = greedy(args.ouro, models["bf16"], ids, [])
            g_q8 = greedy(args.ouro, models["q8"], ids, [])
            g_kv = greedy(args.ouro, models["bf16"], ids, ["-k", "bf16"])
            same = lambda g: sum(a == b for a, b in zip(g, g_exact)) if len(g) == len(g_exact) else 0
            rows.append((name, q8_rms, q8_top, same(g_q8), kv_rms, kv_top, same(g_kv)))
            for what, rms, top in (("q8 weights", q8_rms, q8_top), ("bf16 cache", kv_rms, kv_top)):
                ok = rms <= 0.25 and top >= 0.5
                passed += ok
                failed += not ok
                print(f"{'PASS' if ok else 'FAIL'} {name}: {what} relative RMS {rms:.4f}, top-1 agreement {top:.0%}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| shape | q8: logits rel. RMS | q8: top-1 agree | q8: greedy tokens equal | bf16 cache: rel. RMS"
          " | bf16 cache: top-1 agree | bf16 cache: greedy tokens equal |")
    print("|---|---|---|---|---|---|---|")
    for name, a, b, c, d, e, f in rows:
        print(f"| {name} | {a:.4f} | {b:.0%} | {c}/16 | {d:.5f} | {e:.0%} | {f}/16 |")
    print(f"\n{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
