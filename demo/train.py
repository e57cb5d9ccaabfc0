#!/usr/bin/env python3
"""Train the demo Ouro model on CPU and write a Hugging Face checkpoint (Debian's python3-torch).

    /usr/bin/python3 demo/train.py --data build/demo --out build/demo/ckpt

Reads <data>/train.ids and <data>/valid.ids (token ids made by ./ouro -m encode with the demo
tokenizer, so training sees exactly the tokens ouro.c will) and <data>/tokenizer.json.
Writes <out>/config.json, <out>/model.safetensors (BF16, written by hand) and
<out>/tokenizer.json; `python3 export.py <out> demo/model.bin` turns that into the shipped files.

Objective: Ouro's stage I. Every loop step t has its own logits lm_head(h_t) and loss CE_t; the
exit gate gives an exit distribution p over the T steps (lambda_t = sigmoid(g_t),
p_t = lambda_t prod_{j<t}(1 - lambda_j), the last step takes the rest), and the loss per token
is  sum_t p_t CE_t - beta * H(p).  Fixed seed, float32, single thread by default.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

# OpenBLAS (Debian's torch uses the system BLAS: install libopenblas0-pthread, the reference
# BLAS is ~20x slower) starts its own threads unless told; --threads sets both.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)
os.environ.setdefault("OMP_NUM_THREADS", _threads)

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from model import Config, Ouro, exit_log_probs, save_safetensors  # noqa: E402


def read_ids(path):
    with open(path) as f:
        return torch.tensor([int(x) for x in f.read().split()], dtype=torch.int64)


def batches(ids, batch, seq, gen, eot):
    """Windows of seq+1 tokens; half of them start at a document start (after <|endoftext|>),
    so prompts at position 0 are common, half anywhere."""
    starts_doc = (ids[:-seq - 1] == eot).nonzero().squeeze(1) + 1
    n = len(ids) - seq - 1
    while True:
        anywhere = torch.randint(0, n, (batch,), generator=gen)
        doc = starts_doc[torch.randint(0, len(starts_doc), (batch,), generator=gen)]
        pick = torch.rand(batch, generator=gen) < 0.5
        s = torch.where(pick, doc, anywhere)
        w = torch.stack([ids[i:i + seq + 1] for i in s.tolist()])
        yield w[:, :-1], w[:, 1:]


def losses(model, x, y):
    """-> (CE [B*S, T] of every loop step's logits, exit distribution p [B*S, T], entropy H(p) [B*S])."""
    states, gates = model(x)
    T = states.shape[0]
    ce = torch.stack([F.cross_entropy(model.head(states[t]).flatten(0, 1), y.flatten(), reduction="none")
                      for t in range(T)], dim=-1)  # [B*S, T]
    logp = exit_log_probs(gates.flatten(0, 1))
    p = logp.exp()
    entropy = -(p * logp).sum(-1)
    return ce, p, entropy


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model, ids, seq):
    """Mean CE per step and exit statistics on consecutive chunks of ids."""
    model.eval()
    n = (len(ids) - 1) // seq
    x = ids[:n * seq].view(n, seq)
    tot_ce, tot_p, tot_h, count = 0, 0, 0, 0
    for i in range(0, n, 16):
        ce, p, h = losses(model, x[i:i + 16, :-1], x[i:i + 16, 1:])
        tot_ce = tot_ce + ce.sum(0)
        tot_p = tot_p + p.sum(0)
        tot_h += h.sum().item()
        count += ce.shape[0]
    model.train()
    return tot_ce / count, tot_p / count, tot_h / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="build/demo")
    ap.add_argument("--out", default="build/demo/ckpt")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--inter", type=int, default=384)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--gate-bias", type=float, default=-1.0, help="initial exit gate bias")
    ap.add_argument("--threshold", type=float, default=0.4, help="early_exit_threshold written to config.json")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--bench", type=int, default=0, help="time this many steps and stop")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    with open(os.path.join(args.data, "tokenizer.json")) as f:
        tj = json.load(f)
    vocab = max(list(tj["model"]["vocab"].values()) + [a["id"] for a in tj["added_tokens"]]) + 1
    train_ids = read_ids(os.path.join(args.data, "train.ids"))
    valid_ids = read_ids(os.path.join(args.data, "valid.ids"))[:64 * args.seq + 1]
    eot = 0

    cfg = Config(vocab, hidden_size=args.hidden, intermediate_size=args.inter, num_hidden_layers=args.layers,
                 num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                 max_position_embeddings=args.seq, early_exit_threshold=args.threshold,
                 tie_word_embeddings=args.tied)
    model = Ouro(cfg)
    for name, p in model.named_parameters():
        if name.endswith("norm.weight") or "norm_2" in name:
            torch.nn.init.ones_(p)
        elif "early_exit_gate.bias" in name:
            torch.nn.init.constant_(p, args.gate_bias)
        else:
            torch.nn.init.normal_(p, std=0.02)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: hidden {cfg.hidden_size}, inter {cfg.intermediate_size}, layers {cfg.num_hidden_layers}, "
          f"heads {cfg.num_attention_heads}/{cfg.num_key_value_heads}, vocab {vocab}, T {cfg.total_ut_steps}: "
          f"{n_params} parameters; train {len(train_ids)} tokens; {args.steps} steps of "
          f"{args.batch}x{args.seq} = {args.steps * args.batch * args.seq} tokens", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "early_exit_gate" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "early_exit_gate" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    data = batches(train_ids, args.batch, args.seq, gen, eot)
    t0, c0 = time.time(), time.process_time()
    total = args.bench or args.steps
    for step in range(total):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        x, y = next(data)
        ce, p, entropy = losses(model, x, y)
        loss = ((p * ce).sum(-1) - args.beta * entropy).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == total - 1:
            m = ce.mean(0).tolist()
            print(f"step {step:5d} {time.time() - t0:7.1f}s loss {loss.item():.4f} ce/step "
                  f"{' '.join(f'{v:.3f}' for v in m)} p {' '.join(f'{v:.2f}' for v in p.mean(0).tolist())}",
                  flush=True)
        if args.eval_every and (step + 1) % args.eval_every == 0 and not args.bench:
            vce, vp, vh = evaluate(model, valid_ids, args.seq)
            print(f"  valid ppl/step {' '.join(f'{math.exp(v):.3f}' for v in vce.tolist())} "
                  f"p {' '.join(f'{v:.2f}' for v in vp.tolist())} H {vh:.3f}", flush=True)
    elapsed = time.time() - t0
    print(f"trained {total} steps in {elapsed:.0f}s wall, {time.process_time() - c0:.0f}s CPU "
          f"({total * args.batch * args.seq / elapsed:.0f} tok/s)")
    if args.bench:
        return
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg.to_hf(), f, indent=2)
        f.write("\n")
    save_safetensors(os.path.join(args.out, "model.safetensors"), model.state_dict())
    shutil.copy(os.path.join(args.data, "tokenizer.json"), os.path.join(args.out, "tokenizer.json"))
    print(f"wrote {args.out}: config.json, model.safetensors, tokenizer.json")


if __name__ == "__main__":
    main()
