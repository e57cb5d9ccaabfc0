#!/usr/bin/env python3
"""Write a model.bin with random weights for any Ouro shape; the default is Ouro-1.4B exactly.

    python3 bench/random_model.py out.bin [--dtype bf16|q8|fp32] [--layers 48] ...

For benchmarks: nothing to download, standard library only, a few seconds for 1.4B (the
weights are slices of one random pool, so the file is written at disk speed). The values are
small and finite, so the forward pass does the same work as on real weights; the text it
generates means nothing.
"""
import argparse
import array
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import export  # noqa: E402  (model.bin layout: header, tensor order, alignment)

POOL = 1 << 20  # values in the random pool


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["bf16", "q8", "fp32"], default="bf16")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=5632)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=0, help="default dim / heads")
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--max-pos", type=int, default=65536)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    c = {"dim": a.dim, "hidden_dim": a.hidden, "n_layers": a.layers, "n_heads": a.heads,
         "n_kv_heads": a.kv_heads, "head_dim": a.head_dim or a.dim // a.heads, "vocab_size": a.vocab,
         "max_seq_len": a.max_pos, "n_steps": a.steps, "tied": int(a.tied), "bos_id": 0, "eos_id": 0,
         "rope_theta": 1e6, "rms_eps": 1e-6, "exit_threshold": 1.0, "exit_step": -1}
    rng = random.Random(a.seed)
    f32 = array.array("f", (rng.gauss(0.0, 0.02) for _ in range(POOL)))
    pools = {"fp32": f32.tobytes(), "bf16": export.f32_to_bf16_bytes(f32.tobytes()),
             "q8": bytes(rng.randrange(256) for _ in range(POOL))}
    scales = array.array("f", (rng.uniform(0.5e-3, 1e-3) for _ in range(POOL))).tobytes()
    esize = {"fp32": 4, "bf16": 2, "q8": 1}[a.dtype]
    gs = export.q8_group_size(c) if a.dtype == "q8" else 0

    def pool_bytes(pool, nbytes, esize):  # nbytes of the pool, cycling from a random element
        start = rng.randrange(len(pool) // 2 // esize) * esize
        out = bytearray()
        while len(out) < nbytes:
            out += pool[start:start + nbytes - len(out)]
            start = 0
        return out

    with open(a.out, "wb") as f:
        w = export.Writer(f)
        w.write(export.header_bytes(c, export.WEIGHT_TYPES[a.dtype], gs))
        for label, kind, members in export.expected_tensors(c):
            w.align()
            n_scales = 0
            for name, shape in members:
                n = 1
                for d in shape:
                    n *= d
                if kind == "f":  # norms at 1, a small gate
                    value = 1.0 if "norm" in name else 0.0
                    w.write(struct.pack(f"<{n}f", *([value] * n)))
                else:
                    w.write(pool_bytes(pools[a.dtype], n * esize, esize))
                    n_scales += n // gs if gs else 0
            if n_scales:
                w.align()
                w.write(pool_bytes(scales, n_scales * 4, 4))
        size = w.off
    print(f"wrote {a.out}: {size / 2**30:.2f} GiB, {a.dtype}, dim {a.dim}, {a.layers} layers x {a.steps} steps, vocab {a.vocab}")


if __name__ == "__main__":
    main()
