#!/usr/bin/env python3
"""`./ouro -m ppl` against perplexities computed here from tests/reference.py logits.

    python3 tests/test_ppl.py --ouro ./ouro --export export.py

The text is scored in chunks of -c tokens, each from an empty cache; ppl after each loop step
(the reference's exit_at_step) and with the exit threshold (the reference's exit_threshold).
"""
import argparse
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
import reference as ref  # noqa: E402


def reference_ppl(model, ids, ctx, steps, threshold):
    nll, count = [0.0] * (steps + 1), 0
    for start in range(0, len(ids), ctx):
        chunk = ids[start:start + ctx]
        per_rule = [model.logits(chunk, exit_step=k) for k in range(steps)]
        per_rule.append(model.logits(chunk, threshold=threshold))
        for p in range(len(chunk) - 1):
            count += 1
            for k, rows in enumerate(per_rule):
                row = rows[p]
                top = max(row)
                nll[k] += top + math.log(sum(math.exp(v - top) for v in row)) - row[chunk[p + 1]]
    return [math.exp(v / count) for v in nll]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ouro", default="./ouro")
    ap.add_argument("--export", default="export.py")
    args = ap.parse_args()
    passed = failed = 0
    work = tempfile.mkdtemp(prefix="ouro_ppl_")
    try:
        for seed, steps, ctx, extra in [(21, 4, 5, []), (22, 3, 64, ["--kv-heads", "1"]), (23, 2, 7, ["--tied"])]:
            ckpt = os.path.join(work, f"ckpt{seed}")
            mc.main([ckpt, "--seed", str(seed), "--hidden", "24", "--inter", "40", "--layers", "2", "--heads", "2",
                     "--vocab", "96", "--steps", str(steps), "--threshold", "0.5"] + extra)
            model_bin = os.path.join(work, f"m{seed}.bin")
            subprocess.run([sys.executable, args.export, ckpt, model_bin, "--dtype", "fp32"], check=True, capture_output=True)
            ids = [(seed * 7 + 13 * i * i + i) % 96 for i in range(17)]
            for q in (None, 0.7):
                cmd = [args.ouro, model_bin, "-m", "ppl", "-I", ",".join(map(str, ids)), "-c", str(ctx)]
                cmd += ["-x", str(q)] if q is not None else []
                out = subprocess.run(cmd, capture_output=True, check=True, text=True).stdout.split("\n")
                got = [float(line.rsplit(" ", 1)[1]) for line in out if "ppl" in line]
                want = reference_ppl(ref.Model(ckpt), ids, ctx, steps, 0.5 if q is None else q)
                # ppl is exp(mean NLL): a 1e-4 relative error in the logits moves it far less
                ok = len(got) == steps + 1 and all(abs(g - w) <= 1e-4 * w for g, w in zip(got, want))
                passed += ok
                failed += not ok
                print(f"{'PASS' if ok else 'FAIL'} ppl T={steps} ctx={ctx} -x {q}: got {got}, reference "
                      f"{[round(w, 4) for w in want]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
