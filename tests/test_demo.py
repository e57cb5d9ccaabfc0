#!/usr/bin/env python3
"""The shipped demo model (demo/model.bin, demo/tokenizer.bin) against the PyTorch evaluation.

    python3 tests/test_demo.py [--ouro ./ouro]

demo/expected.json is written by demo/eval.py --write (PyTorch, float64, the checkpoint's BF16
weights; see demo/README.md). Checked here, with nothing but ./ouro and the standard library:
  - ./ouro's encoder gives the held-out text the token count the expectations were made with;
  - `./ouro demo/model.bin -m ppl -f demo/heldout.txt` agrees with PyTorch to 3 significant
    digits (relative difference <= 5e-4) after every loop step and with the default exit;
  - the loop helps: the 4-step perplexity is below the 1-step one;
  - `./ouro demo/model.bin -m ids -t 0 -I <prompt ids> -n N` gives PyTorch's greedy ids, token
    by token (the prompts were chosen with no near-tie in PyTorch's logits: eval.py prints the
    smallest top1-top2 gap).
Prints one line per check and ends with "N passed, M failed"; exit status 1 on failure.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "demo")
REL_TOL = 5e-4


# The model is tiny: OpenMP's threads cost more than they save (seconds instead of a fraction
# of one on a busy machine), and results do not depend on the thread count.
ENV = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ouro", default=os.path.join(ROOT, "ouro"))
    args = ap.parse_args()
    model = os.path.join(DEMO, "model.bin")
    tok = os.path.join(DEMO, "tokenizer.bin")
    with open(os.path.join(DEMO, "expected.json")) as f:
        exp = json.load(f)
    text = os.path.join(ROOT, exp["text"])
    passed = failed = 0

    def check(ok, msg):
        nonlocal passed, failed
        passed += bool(ok)
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {msg}")

    try:
        n = len(run([args.ouro, "-m", "encode", "-z", tok, "-f", text]).split())
        check(n == exp["n_tokens"], f"encode {exp['text']}: {n} tokens, expected {exp['n_tokens']}")

        out = run([args.ouro, model, "-m", "ppl", "-f", text, "-c", str(exp["ctx"])])
        got = {}
        for line in out.splitlines():
            if ": ppl " in line:
                name, value = line.split(": ppl ")
                got[name.strip()] = float(value)
        want = {f"step {t + 1}": v for t, v in enumerate(exp["ppl_steps"])}
        want["exit"] = exp["ppl_exit"]
        for name, w in want.items():
            g = got.get(name)
            ok = g is not None and abs(g - w) <= REL_TOL * w
            check(ok, f"ppl {name}: ./ouro {g}, PyTorch {w:.4f}")
        steps = len(exp["ppl_steps"])
        g1, gT = got.get("step 1"), got.get(f"step {steps}")
        check(g1 is not None and gT is not None and gT < g1,
              f"the loop helps: ppl after {steps} steps {gT} < after 1 step {g1}")

        for gen in exp["generations"]:
            ids = [int(x) for x in run([args.ouro, model, "-m", "ids", "-t", "0", "-n", str(exp["n"]), "-I",
                                        ",".join(map(str, gen["prompt_ids"]))]).split()]
            want_ids = gen["ids"]
            bad = next((i for i in range(max(len(ids), len(want_ids)))
                        if i >= len(ids) or i >= len(want_ids) or ids[i] != want_ids[i]), None)
            detail = "" if bad is None else (f": first difference at token {bad}: ./ouro "
                                             f"{ids[bad:bad + 4]}, PyTorch {want_ids[bad:bad + 4]}")
            check(bad is None, f"greedy {gen['prompt']!r}: {len(ids)} ids, PyTorch {len(want_ids)} "
                               f"(min top1-top2 gap {gen['min_gap']}){detail}")
    except (RuntimeError, OSError) as e:
        check(False, str(e))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
