#!/usr/bin/env python3
"""Write a tiny random Ouro checkpoint in Hugging Face layout (stdlib only).

    python3 tests/make_checkpoint.py OUT_DIR [--dtype BF16|F16|F32[,..]] [--shards N]
        [--seed S] [--hidden 32] [--inter 64] [--layers 2] [--heads 4] [--kv-heads 4]
        [--head-dim D] [--vocab 256] [--steps 4] [--tied] [--theta 10000] [--eps 1e-6]
        [--threshold 1.0|null] [--max-pos 128] [--eos 0] [--bos 0]
        [--early-exit-step S] [--omit CONFIG_KEY ...] [--drop-tensor NAME ...] [--bad-shape NAME ...]

Produces OUT_DIR/config.json and either OUT_DIR/model.safetensors or
OUT_DIR/model-0000k-of-0000N.safetensors + model.safetensors.index.json.
Tensor names and shapes are those of /work/shared/OURO.md (lm_head.weight is
omitted when the embeddings are tied).

--dtype takes one dtype, or a comma-separated list applied to the shard files
in turn (e.g. "BF16,F32" gives mixed-dtype shards). --drop-tensor and
--bad-shape build deliberately broken checkpoints for negative tests
(--bad-shape adds 1 to the tensor's first dimension).

Importable: make_checkpoint(out_dir, **options) returns the config dict.
"""
import argparse
import json
import math
import os
import random
import struct
import sys
from array import array

DTYPES = ("BF16", "F16", "F32")


def tensor_specs(cfg):
    """Ordered list of (name, shape) exactly as in OURO.md."""
    H = cfg["hidden_size"]
    I = cfg["intermediate_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    V = cfg["vocab_size"]
    specs = [("model.embed_tokens.weight", [V, H])]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        specs += [
            (p + "input_layernorm.weight", [H]),
            (p + "self_attn.q_proj.weight", [nh * hd, H]),
            (p + "self_attn.k_proj.weight", [nkv * hd, H]),
            (p + "self_attn.v_proj.weight", [nkv * hd, H]),
            (p + "self_attn.o_proj.weight", [H, nh * hd]),
            (p + "input_layernorm_2.weight", [H]),
            (p + "post_attention_layernorm.weight", [H]),
            (p + "mlp.gate_proj.weight", [I, H]),
            (p + "mlp.up_proj.weight", [I, H]),
            (p + "mlp.down_proj.weight", [H, I]),
            (p + "post_attention_layernorm_2.weight", [H]),
        ]
    specs += [
        ("model.norm.weight", [H]),
        ("model.early_exit_gate.weight", [1, H]),
        ("model.early_exit_gate.bias", [1]),
    ]
    if not cfg.get("tie_word_embeddings", False):
        specs.append(("lm_head.weight", [V, H]))
    return specs


def init_values(rng, name, shape):
    """Deterministic random init keeping activations O(1) (see module doc)."""
    n = 1
    for d in shape:
        n *= d
    g = rng.gauss
    if name.endswith("norm.weight") or "layernorm" in name:
        return [1.0 + 0.1 * g(0.0, 1.0) for _ in range(n)]
    if name == "model.embed_tokens.weight":
        return [g(0.0, 1.0) for _ in range(n)]
    if name == "model.early_exit_gate.weight":
        # the gate sees the final-normed state (rms ~1): std 1.2/sqrt(H) gives
        # gate logits ~N(0, 1.2^2), i.e. sigmoid mostly within 0.1 .. 0.9
        s = 1.2 / math.sqrt(shape[-1])
        return [g(0.0, s) for _ in range(n)]
    if name == "model.early_exit_gate.bias":
        return [0.1 * g(0.0, 1.0) for _ in range(n)]
    # Linear weight [out, in]: std 1/sqrt(fan_in)
    s = 1.0 / math.sqrt(shape[-1])
    return [g(0.0, s) for _ in range(n)]


def f32_to_bf16_bits(vals):
    """float values -> array('H') of bf16 bits, round-to-nearest-even of the float32 bits."""
    f = array("f", vals)
    if sys.byteorder != "little":
        f.byteswap()
    u = array("I")
    u.frombytes(f.tobytes())
    out = array("H", [((x + 0x7FFF + ((x >> 16) & 1)) >> 16) & 0xFFFF for x in u])
    return out


def encode(vals, dtype):
    if dtype == "F32":
        a = array("f", vals)
        if sys.byteorder != "little":
            a.byteswap()
        return a.tobytes()
    if dtype == "BF16":
        a = f32_to_bf16_bits(vals)
        if sys.byteorder != "little":
            a.byteswap()
        return a.tobytes()
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    raise ValueError("unknown dtype " + dtype)


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes). Header padded with spaces to 8."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, _, raw in tensors:
            f.write(raw)
    os.replace(tmp, path)
    return off


def build_config(hidden=32, inter=64, layers=2, heads=4, kv_heads=None, head_dim=None,
                 vocab=256, steps=4, tied=False, theta=10000.0, eps=1e-6, threshold=1.0,
                 max_pos=128, eos=0, bos=0, dtype="BF16", omit=(), early_exit_step=None):
    torch_dtype = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype.split(",")[0]]
    cfg = {
        "architectures": ["OuroForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": inter,
        "max_position_embeddings": max_pos,
        "model_type": "ouro",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": heads if kv_heads is None else kv_heads,
        "rms_norm_eps": eps,
        "rope_scaling": None,
        "rope_theta": theta,
        "sliding_window": None,
        "tie_word_embeddings": bool(tied),
        "torch_dtype": torch_dtype,
        "total_ut_steps": steps,
        "early_exit_threshold": threshold,
        "transformers_version": "4.55.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab,
    }
    if head_dim is not None:
        cfg["head_dim"] = head_dim
    if early_exit_step is not None:
        cfg["early_exit_step"] = early_exit_step
    for k in omit:
        cfg.pop(k, None)
    return cfg


def make_checkpoint(out_dir, dtype="BF16", shards=1, seed=0, drop_tensors=(), bad_shapes=(),
                    **kw):
    dtypes = [d.strip().upper() for d in dtype.split(",")]
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError("dtype must be one of %s, got %r" % (DTYPES, d))
    cfg = build_config(dtype=dtypes[0], **kw)
    hd = kw.get("head_dim")
    if hd is None and cfg["hidden_size"] % cfg["num_attention_heads"]:
        raise ValueError("hidden not divisible by heads; give --head-dim")
    if cfg["num_attention_heads"] % cfg.get("num_key_value_heads", cfg["num_attention_heads"]):
        raise ValueError("heads must be a multiple of kv-heads")
    # shapes come from the complete config even when keys are omitted from config.json
    full = build_config(dtype=dtypes[0], **{k: v for k, v in kw.items() if k != "omit"})
    specs = tensor_specs(full)
    names = [n for n, _ in specs]
    for n in list(drop_tensors) + list(bad_shapes):
        if n not in names:
            raise ValueError("no tensor named %r" % n)
    rng = random.Random(seed)
    values = []
    for name, shape in specs:
        # every tensor is drawn (even dropped ones) so that the other weights do not
        # depend on which tensors were dropped or mis-shaped
        if name in bad_shapes:
            shape = [shape[0] + 1] + list(shape[1:])
        values.append((name, shape, init_values(rng, name, shape)))
    values = [v for v in values if v[0] not in drop_tensors]

    os.makedirs(out_dir, exist_ok=True)
    shards = max(1, int(shards))
    if shards > len(values):
        raise ValueError("more shards than tensors")
    # contiguous groups of roughly equal element counts, each non-empty
    total = sum(len(v[2]) for v in values)
    groups = [[] for _ in range(shards)]
    acc = 0
    for idx, v in enumerate(values):
        left_t = len(values) - idx
        k = min(shards - 1, acc * shards // max(total, 1))
        # keep enough tensors for the remaining shards
        while k < shards - 1 and left_t <= shards - 1 - k:
            k += 1
        # never go back to an earlier shard
        prev = max((j for j in range(shards) if groups[j]), default=0)
        k = max(k, prev)
        groups[k].append(v)
        acc += len(v[2])
    # make sure all shards got something (tiny checkpoints): move tails forward
    for j in range(shards):
        if not groups[j]:
            for i in range(j - 1, -1, -1):
                if len(groups[i]) > 1:
                    groups[j].insert(0, groups[i].pop())
                    break
    for f in os.listdir(out_dir):
        if f.endswith(".safetensors") or f == "model.safetensors.index.json":
            os.remove(os.path.join(out_dir, f))
    weight_map = {}
    total_size = 0
    for j, grp in enumerate(groups):
        d = dtypes[j % len(dtypes)]
        fname = "model.safetensors" if shards == 1 else "model-%05d-of-%05d.safetensors" % (j + 1, shards)
        tens = [(n, d, s, encode(v, d)) for n, s, v in grp]
        total_size += write_safetensors(os.path.join(out_dir, fname), tens, {"format": "pt"})
        for n, _, _ in grp:
            weight_map[n] = fname
    if shards > 1:
        idx = {"metadata": {"total_size": total_size},
               "weight_map": {k: weight_map[k] for k in sorted(weight_map)}}
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump(idx, f, indent=2)
            f.write("\n")
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    gen = {"bos_token_id": cfg.get("bos_token_id"), "eos_token_id": cfg.get("eos_token_id"),
           "_from_model_config": True}
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
        f.write("\n")
    return cfg


def _threshold(s):
    if s.lower() in ("null", "none"):
        return None
    return float(s)


def main(argv=None):
    ap = argparse.ArgumentParser(description="write a tiny random Ouro HF checkpoint")
    ap.add_argument("out_dir")
    ap.add_argument("--dtype", default="BF16", help="BF16|F16|F32 or a comma list per shard")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--inter", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=None)
    ap.add_argument("--head-dim", type=int, default=None)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--theta", type=float, default=10000.0)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--threshold", type=_threshold, default=1.0, help='number or "null"')
    ap.add_argument("--max-pos", type=int, default=128)
    ap.add_argument("--eos", type=int, default=0)
    ap.add_argument("--bos", type=int, default=0)
    ap.add_argument("--early-exit-step", type=int, default=None,
                    help="write config early_exit_step (0-based default exit step)")
    ap.add_argument("--omit", action="append", default=[], help="drop this key from config.json")
    ap.add_argument("--drop-tensor", action="append", default=[])
    ap.add_argument("--bad-shape", action="append", default=[])
    a = ap.parse_args(argv)
    cfg = make_checkpoint(
        a.out_dir, dtype=a.dtype, shards=a.shards, seed=a.seed, drop_tensors=a.drop_tensor,
        bad_shapes=a.bad_shape, hidden=a.hidden, inter=a.inter, layers=a.layers, heads=a.heads,
        kv_heads=a.kv_heads, head_dim=a.head_dim, vocab=a.vocab, steps=a.steps, tied=a.tied,
        theta=a.theta, eps=a.eps, threshold=a.threshold, max_pos=a.max_pos, eos=a.eos,
        bos=a.bos, omit=a.omit, early_exit_step=a.early_exit_step)
    print("wrote %s (hidden %d, layers %d, steps %d, vocab %d)" % (
        a.out_dir, cfg["hidden_size"], cfg["num_hidden_layers"], cfg["total_ut_steps"],
        cfg["vocab_size"]), file=sys.stderr)


if __name__ == "__main__":
    main()
