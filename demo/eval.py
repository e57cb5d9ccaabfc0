#!/usr/bin/env python3
"""Evaluate the demo checkpoint in PyTorch exactly as ouro.c's `-m ppl` and `-m ids -t 0` do,
and (with --write) record the expectations tests/test_demo.py checks ./ouro against.

    /usr/bin/python3 demo/eval.py [--ckpt build/demo/ckpt] [--text demo/heldout.txt] [--write demo/expected.json]

The weights are the checkpoint's BF16 values (what export.py ships in demo/model.bin); the
arithmetic is float64. Tokens come from ./ouro's own encoder (-m encode with demo/tokenizer.bin),
so both sides score the same ids.

ppl (ouro.c's definition): the tokens of the text (no BOS) are cut into consecutive chunks of C
tokens (C = max_position_embeddings unless -c), each chunk run from position 0; every token
after the first of its chunk is predicted from the ones before it in the chunk. For each loop
step t the logits are lm_head(h_t), h_t the final-normed state after step t; ppl_t =
exp(mean NLL). "exit": per position the first step whose cumulative exit probability reaches
early_exit_threshold (else the last step), and that step's logits.

Greedy generation: the default exit rule per generated token, stop at eos (not printed), at
most -n tokens; prints the smallest top1-top2 logit gap and the smallest distance of a
cumulative exit probability to the threshold, so prompts near a tie can be avoided.
"""
import argparse
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from model import exit_steps, load_checkpoint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Greedy prompts for the test: the first N_PINNED of these whose generation has no near-tie
# (top1-top2 logit gap >= MIN_GAP, cumulative exit probabilities >= MIN_MARGIN from the threshold),
# so float32 (./ouro) and float64 (here) cannot pick different tokens.
CANDIDATES = ["Once upon a time", "One sunny day, Tom the dog lost", "Q: 345 + 278 = ? A:",
              "Once upon a time, Lily and Ben went to the", "Birds can", "Q: 56 + 81 = ? A:",
              "One windy day, Mia the frog lost her", "Sam had 7 cookies.", "Q: 707 + 295 = ? A:",
              "Once upon a time, there was a brave fox named", "Tom has a red ball and Zoe has a blue kite.",
              "Q: 12 + 99 = ? A:"]
N_PINNED, MIN_GAP, MIN_MARGIN = 5, 0.01, 1e-3


def encode(ouro, tok, text=None, path=None):
    cmd = [ouro, "-m", "encode", "-z", tok] + (["-f", path] if path else ["-i", text])
    return [int(x) for x in subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()]


@torch.no_grad()
def perplexity(model, cfg, ids, ctx, threshold):
    T = cfg.total_ut_steps
    nll = torch.zeros(T + 1, dtype=torch.float64)
    scored, exits, near = 0, torch.zeros(T, dtype=torch.int64), math.inf
    for start in range(0, len(ids), ctx):
        chunk = torch.tensor(ids[start:start + ctx])
        if len(chunk) < 2:
            continue
        states, gates = model(chunk[None])
        target = chunk[1:]
        losses = torch.stack([F.cross_entropy(model.head(states[t, 0, :-1]), target, reduction="none")
                              for t in range(T)])  # [T, n-1]
        step, cum = exit_steps(gates[0, :-1], threshold)
        nll[:T] += losses.sum(1)
        nll[T] += losses.gather(0, step[None]).sum()
        exits += torch.bincount(step, minlength=T)
        near = min(near, (cum[:, :T - 1] - threshold).abs().min().item())
        scored += len(target)
    return [math.exp(v / scored) for v in nll.tolist()], exits.tolist(), near, scored


@torch.no_grad()
def greedy(model, cfg, prompt, n, threshold):
    ids, gaps, margins = list(prompt), [], []
    T = cfg.total_ut_steps
    for _ in range(n):
        if len(ids) > cfg.max_position_embeddings:
            break
        states, gates = model(torch.tensor(ids)[None])
        step, cum = exit_steps(gates[0, -1], threshold)
        logits = model.head(states[step.item(), 0, -1])
        top = logits.topk(2)
        gaps.append((top.values[0] - top.values[1]).item())
        margins.append((cum[:T - 1] - threshold).abs().min().item())
        nxt = top.indices[0].item()
        if nxt == cfg.eos_token_id:
            break
        ids.append(nxt)
    return ids[len(prompt):], min(gaps), min(margins)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(ROOT, "build/demo/ckpt"))
    ap.add_argument("--text", default=os.path.join(HERE, "heldout.txt"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer.bin"))
    ap.add_argument("--ouro", default=os.path.join(ROOT, "ouro"))
    ap.add_argument("-c", "--ctx", type=int, default=0)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("--write", help="write the expectations (JSON) here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_checkpoint(args.ckpt, torch.float64)
    q = cfg.early_exit_threshold
    q = math.inf if q is None else q
    ctx = args.ctx or min(cfg.max_position_embeddings, 4096)

    ids = encode(args.ouro, args.tokenizer, path=args.text)
    ppl, exits, near, scored = perplexity(model, cfg, ids, ctx, q)
    for t in range(cfg.total_ut_steps):
        print(f"step {t + 1}: ppl {ppl[t]:.4f}")
    print(f"exit: ppl {ppl[-1]:.4f}")
    mean_exit = sum((t + 1) * c for t, c in enumerate(exits)) / scored
    print(f"# {os.path.relpath(args.text, ROOT)}: {len(ids)} tokens, {scored} scored in chunks of {ctx}; "
          f"exit at steps 1..{cfg.total_ut_steps}: {exits} (mean {mean_exit:.2f}, threshold {q}); "
          f"closest cumulative exit probability to the threshold: {near:.2e}")

    gens = []
    for p in CANDIDATES:
        pid = encode(args.ouro, args.tokenizer, text=p)
        out, gap, margin = greedy(model, cfg, pid, args.n, q)
        ok = gap >= MIN_GAP and margin >= MIN_MARGIN and len(gens) < N_PINNED
        if ok:
            gens.append({"prompt": p, "prompt_ids": pid, "ids": out, "min_gap": round(gap, 4),
                         "min_exit_margin": round(margin, 6)})
        print(f"# greedy {p!r}: {len(out)} tokens, min top1-top2 gap {gap:.4f}, min |cum - threshold| "
              f"{margin:.2e}{' (pinned)' if ok else ''}: {' '.join(map(str, out))}")

    if args.write:
        exp = {"text": os.path.relpath(args.text, ROOT), "ctx": ctx, "n_tokens": len(ids),
               "ppl_steps": [round(v, 6) for v in ppl[:-1]], "ppl_exit": round(ppl[-1], 6),
               "exit_counts": exits, "n": args.n, "generations": gens}
        with open(args.write, "w") as f:
            json.dump(exp, f, indent=1)
            f.write("\n")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
