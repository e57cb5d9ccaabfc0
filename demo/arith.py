#!/usr/bin/env python3
"""How many held-out additions the demo model gets right after 1, 2, 3, 4 loop steps (stdlib + ./ouro).

    python3 demo/arith.py [--ouro ./ouro] [--model demo/model.bin] [-n 200]

Draws n problems "Q: a + b = ? A:" (a, b of 2 or 3 digits, as in training) that make_data.py
puts in the held-out split only (never seen in training), asks ./ouro for a greedy answer with
-u 1 .. -u T and with the default exit, and counts exact answers.
"""
import argparse
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
from make_data import in_heldout, number  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ouro", default=os.path.join(ROOT, "ouro"))
    ap.add_argument("--model", default=os.path.join(HERE, "model.bin"))
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    rng = random.Random(2024)
    problems = []
    while len(problems) < args.n:
        a, b = number(rng), number(rng)
        if in_heldout(a, "+", b):
            problems.append((a, b))
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    rules = [(f"{u} step{'s' if u > 1 else ''} (-u {u})", ["-u", str(u)]) for u in range(1, args.steps + 1)]
    rules.append(("default exit", []))
    print(f"{args.n} held-out problems 'Q: a + b = ? A:', a and b of 2-3 digits, greedy")
    for name, flags in rules:
        right = 0
        for a, b in problems:
            out = subprocess.run([args.ouro, args.model, "-i", f"Q: {a} + {b} = ? A:", "-t", "0", "-n", "6"] + flags,
                                 capture_output=True, text=True, env=env, check=True).stdout
            right += out.split("\n")[0].strip() == str(a + b)
        print(f"{name:20s} {right:4d}/{args.n} = {100 * right / args.n:5.1f}% right")


if __name__ == "__main__":
    main()
