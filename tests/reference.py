#!/usr/bin/env python3
"""Independent float64 pure-Python reference forward pass for Ouro (stdlib only).

Written from /work/shared/OURO.md. Reads a Hugging Face checkpoint directory
directly (config.json + model.safetensors or sharded model-*-of-*.safetensors with
model.safetensors.index.json; BF16/F16/F32 tensors). There is no KV cache: every
query recomputes the whole causal forward over the whole sequence, all positions
at once, layer by layer, so it checks the C program's cache independently.

CLI:
    python3 tests/reference.py CKPT_DIR --ids 1,2,3 [--exit-step S | --threshold Q]
        [--logits OUT.bin]      float32 LE [n x vocab], logits of every position
        [--generate N]          greedy ids (prompt not included), stop at eos (not emitted)
        [--report]              per position: exit step, top1-top2 gap, exit margin
        [--round-bf16]          round matrix weights to bf16 first (what a bf16 export holds)
        [--kv-bf16]             round cached keys (after RoPE) / values to bf16 (./ouro -k bf16)
        [--eos E]               override eos id (-1 = never stop)

    --exit-step S   = HF exit_at_step=S (0-based, S in 0..T-1) = ./ouro -u S+1
    --threshold Q   = ./ouro -x Q ("null" means: always the last step)
    neither         = config early_exit_threshold (null/absent -> last step)

Importable API (see test_e2e.py):
    m = Model(ckpt_dir, round_bf16=False, kv_bf16=False)
    st = m.forward(ids)            -> Steps: st.h[pos][t] (normed state), st.g[pos][t] (gate)
    m.logits(ids, exit_step=None, threshold=DEFAULT) -> list of rows (python floats)
    m.generate(ids, n, exit_step=None, threshold=DEFAULT, eos=DEFAULT) -> list of ids
    m.diagnostics(ids, exit_step, threshold) -> per position dict(step, gap, scale, margin, cum)
    exit_pdf(gates), select_step(cum, T, exit_step, threshold), threshold_margin(cum, q)
"""
import argparse
import json
import math
import os
import struct
import sys
from array import array
from operator import mul

DEFAULT = object()  # "use the config's early_exit_threshold"


# ---------------------------------------------------------------- safetensors
def _decode(raw, dtype, n):
    if dtype == "F32":
        a = array("f")
        a.frombytes(raw)
        if sys.byteorder != "little":
            a.byteswap()
        return a.tolist()
    if dtype == "BF16":
        h = array("H")
        h.frombytes(raw)
        if sys.byteorder != "little":
            h.byteswap()
        u = array("I", [x << 16 for x in h])
        f = array("f")
        f.frombytes(u.tobytes())
        return f.tolist()
    if dtype == "F16":
        return list(struct.unpack("<%de" % n, raw))
    if dtype == "F64":
        return list(struct.unpack("<%dd" % n, raw))
    raise ValueError("unsupported safetensors dtype %s" % dtype)


_SIZES = {"F32": 4, "BF16": 2, "F16": 2, "F64": 8}


def read_safetensors(path):
    """-> {name: (dtype, shape, flat list of python floats)}"""
    out = {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype, shape = info["dtype"], info["shape"]
            b, e = info["data_offsets"]
            cnt = 1
            for d in shape:
                cnt *= d
            if e - b != cnt * _SIZES[dtype]:
                raise ValueError("%s: %s byte size %d != %d" % (path, name, e - b, cnt * _SIZES[dtype]))
            f.seek(base + b)
            raw = f.read(e - b)
            out[name] = (dtype, list(shape), _decode(raw, dtype, cnt))
    return out


def load_checkpoint(ckpt_dir):
    with open(os.path.join(ckpt_dir, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(ckpt_dir, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        for fn in sorted(set(wm.values())):
            part = read_safetensors(os.path.join(ckpt_dir, fn))
            for k, v in part.items():
                if wm.get(k) != fn:
                    raise ValueError("%s found in %s but index says %s" % (k, fn, wm.get(k)))
                tensors[k] = v
        missing = [k for k in wm if k not in tensors]
        if missing:
            raise ValueError("index names tensors not in shards: %s" % missing[:3])
    else:
        files = sorted(f for f in os.listdir(ckpt_dir) if f.endswith(".safetensors"))
        if not files:
            raise FileNotFoundError("no .safetensors in %s" % ckpt_dir)
        for fn in files:
            tensors.update(read_safetensors(os.path.join(ckpt_dir, fn)))
    return cfg, tensors


def bf16_round(v):
    """float64 -> float32 (RNE) -> bf16 (RNE of float32 bits) -> float"""
    u = struct.unpack("<I", struct.pack("<f", v))[0]
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return struct.unpack("<f", struct.pack("<I", u & 0xFFFFFFFF))[0]


# ---------------------------------------------------------------- math helpers
def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def silu(z):
    return z * sigmoid(z)


def rmsnorm(x, w, eps):
    ss = sum(v * v for v in x) / len(x)
    r = 1.0 / math.sqrt(ss + eps)
    return [wi * (xi * r) for wi, xi in zip(w, x)]


def matvec(W, x):
    return [sum(map(mul, row, x)) for row in W]


def exit_pdf(gates):
    """gate logits g_0..g_{T-1} -> exit pdf p_0..p_{T-1} (OURO.md 'Exit')."""
    T = len(gates)
    p = []
    remaining = 1.0
    for t in range(T - 1):
        lam = sigmoid(gates[t])
        p.append(lam * remaining)
        remaining *= 1.0 - lam
    p.append(remaining)
    return p


def cumulative(p):
    c, s = [], 0.0
    for v in p:
        s += v
        c.append(s)
    return c


def select_step(cum, T, exit_step=None, threshold=None):
    """exit_at_step wins; else first step with cum >= q; else last step."""
    if exit_step is not None:
        if not 0 <= exit_step < T:
            raise ValueError("exit_step %d outside 0..%d" % (exit_step, T - 1))
        return exit_step
    if threshold is not None:
        for t in range(T):
            if cum[t] >= threshold:
                return t
    return T - 1


def threshold_margin(cum, q):
    """min |cum_t - q| over the steps whose comparison matters (t < T-1: the last
    step is chosen whether or not it reaches q). inf when q is None."""
    if q is None:
        return math.inf
    if len(cum) < 2:
        return math.inf
    return min(abs(c - q) for c in cum[:-1])


# ---------------------------------------------------------------- model
class Steps:
    """Per position, per loop step: normed state h and gate logit g."""

    def __init__(self, h, g):
        self.h = h
        self.g = g


class Model:
    def __init__(self, ckpt_dir, round_bf16=False, kv_bf16=False):
        cfg, tens = load_checkpoint(ckpt_dir)
        self.cfg = cfg
        self.dim = H = int(cfg["hidden_size"])
        self.hidden_dim = int(cfg["intermediate_size"])
        self.n_layers = L = int(cfg["num_hidden_layers"])
        self.n_heads = int(cfg["num_attention_heads"])
        kv = cfg.get("num_key_value_heads")
        self.n_kv_heads = int(kv) if kv is not None else self.n_heads
        hd = cfg.get("head_dim")
        self.head_dim = int(hd) if hd is not None else H // self.n_heads
        self.vocab = int(cfg["vocab_size"])
        self.T = int(cfg.get("total_ut_steps", 4))
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.theta = float(cfg.get("rope_theta", 10000.0))
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        thr = cfg.get("early_exit_threshold")
        self.default_threshold = None if thr is None else float(thr)
        es = cfg.get("early_exit_step")
        self.default_exit_step = None if es is None else int(es)
        eos = cfg.get("eos_token_id")
        if isinstance(eos, list):
            eos = eos[0] if eos else None
        self.eos = eos
        self.round_bf16 = round_bf16
        self.kv_bf16 = kv_bf16  # simulate ./ouro -k bf16: keys (after RoPE) and values rounded

        def get(name, shape, matrix):
            if name not in tens:
                raise KeyError("missing tensor " + name)
            _, shp, vals = tens[name]
            if list(shp) != list(shape):
                raise ValueError("%s has shape %s, expected %s" % (name, shp, shape))
            if matrix and round_bf16:
                vals = [bf16_round(v) for v in vals]
            if len(shape) == 2 and matrix:
                c = shape[1]
                return [vals[r * c:(r + 1) * c] for r in range(shape[0])]
            return vals

        nh, nkv, hd, I, V = self.n_heads, self.n_kv_heads, self.head_dim, self.hidden_dim, self.vocab
        if nh % nkv:
            raise ValueError("heads not a multiple of kv heads")
        self.embed = get("model.embed_tokens.weight", [V, H], True)
        self.layers = []
        for i in range(L):
            p = "model.layers.%d." % i
            self.layers.append({
                "ln1": get(p + "input_layernorm.weight", [H], False),
                "wq": get(p + "self_attn.q_proj.weight", [nh * hd, H], True),
                "wk": get(p + "self_attn.k_proj.weight", [nkv * hd, H], True),
                "wv": get(p + "self_attn.v_proj.weight", [nkv * hd, H], True),
                "wo": get(p + "self_attn.o_proj.weight", [H, nh * hd], True),
                "ln1b": get(p + "input_layernorm_2.weight", [H], False),
                "ln2": get(p + "post_attention_layernorm.weight", [H], False),
                "wg": get(p + "mlp.gate_proj.weight", [I, H], True),
                "wu": get(p + "mlp.up_proj.weight", [I, H], True),
                "wd": get(p + "mlp.down_proj.weight", [H, I], True),
                "ln2b": get(p + "post_attention_layernorm_2.weight", [H], False),
            })
        self.norm = get("model.norm.weight", [H], False)
        self.gate_w = get("model.early_exit_gate.weight", [1, H], False)
        self.gate_b = get("model.early_exit_gate.bias", [1], False)[0]
        if self.tied:
            self.lm_head = self.embed
        else:
            self.lm_head = get("lm_head.weight", [V, H], True)
        # rotate-half RoPE frequencies
        half = hd // 2
        self.inv_freq = [self.theta ** (-(2.0 * i) / hd) for i in range(half)]
        self._cache = {}

    # -- pieces
    def rope(self, vec, n_h, pos):
        """rotate-half RoPE on each head of vec (length n_h*head_dim), in place copy."""
        hd = self.head_dim
        half = hd // 2
        out = list(vec)
        cs = [(math.cos(pos * f), math.sin(pos * f)) for f in self.inv_freq]
        for h in range(n_h):
            b = h * hd
            for i in range(half):
                c, s = cs[i]
                x1 = vec[b + i]
                x2 = vec[b + i + half]
                out[b + i] = x1 * c - x2 * s
                out[b + i + half] = x2 * c + x1 * s
        return out

    def layer(self, X, lw):
        """one decoder layer applied to all positions (causal), returns new X."""
        n = len(X)
        hd, nh, nkv = self.head_dim, self.n_heads, self.n_kv_heads
        grp = nh // nkv
        scale = 1.0 / math.sqrt(hd)
        eps = self.eps
        Q, K, Vv = [], [], []
        for pos in range(n):
            h = rmsnorm(X[pos], lw["ln1"], eps)
            Q.append(self.rope(matvec(lw["wq"], h), nh, pos))
            K.append(self.rope(matvec(lw["wk"], h), nkv, pos))
            Vv.append(matvec(lw["wv"], h))
            if self.kv_bf16:
                K[-1] = [bf16_round(v) for v in K[-1]]
                Vv[-1] = [bf16_round(v) for v in Vv[-1]]
        out = []
        for pos in range(n):
            att = [0.0] * (nh * hd)
            for h in range(nh):
                kvh = h // grp
                q = Q[pos][h * hd:(h + 1) * hd]
                kb = kvh * hd
                scores = [sum(map(mul, q, K[j][kb:kb + hd])) * scale for j in range(pos + 1)]
                m = max(scores)
                e = [math.exp(s - m) for s in scores]
                z = sum(e)
                for j in range(pos + 1):
                    w = e[j] / z
                    vj = Vv[j]
                    for d in range(hd):
                        att[h * hd + d] += w * vj[kb + d]
            a = rmsnorm(matvec(lw["wo"], att), lw["ln1b"], eps)
            x = [xi + ai for xi, ai in zip(X[pos], a)]
            h2 = rmsnorm(x, lw["ln2"], eps)
            gt = matvec(lw["wg"], h2)
            up = matvec(lw["wu"], h2)
            act = [silu(g) * u for g, u in zip(gt, up)]
            mo = rmsnorm(matvec(lw["wd"], act), lw["ln2b"], eps)
            out.append([xi + mi for xi, mi in zip(x, mo)])
        return out

    def forward(self, ids):
        """Full causal forward of the whole sequence; every step's normed state and gate."""
        key = tuple(ids)
        if key in self._cache:
            return self._cache[key]
        for t in ids:
            if not 0 <= t < self.vocab:
                raise ValueError("token id %d out of range" % t)
        X = [list(self.embed[t]) for t in ids]
        n = len(ids)
        hs = [[] for _ in range(n)]
        gs = [[] for _ in range(n)]
        for ut in range(self.T):
            for lw in self.layers:
                X = self.layer(X, lw)
            X = [rmsnorm(x, self.norm, self.eps) for x in X]  # feeds the next step
            for pos in range(n):
                hs[pos].append(X[pos])
                gs[pos].append(sum(map(mul, self.gate_w, X[pos])) + self.gate_b)
        st = Steps(hs, gs)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = st
        return st

    def _resolve(self, exit_step, threshold):
        if threshold is DEFAULT:
            threshold = self.default_threshold
            if exit_step is None:
                exit_step = self.default_exit_step
        return exit_step, threshold

    def head(self, h):
        return matvec(self.lm_head, h)

    def position_logits(self, st, pos, exit_step=None, threshold=DEFAULT):
        exit_step, threshold = self._resolve(exit_step, threshold)
        cum = cumulative(exit_pdf(st.g[pos]))
        t = select_step(cum, self.T, exit_step, threshold)
        return self.head(st.h[pos][t])

    def logits(self, ids, exit_step=None, threshold=DEFAULT):
        st = self.forward(ids)
        return [self.position_logits(st, p, exit_step, threshold) for p in range(len(ids))]

    def diagnostics(self, ids, exit_step=None, threshold=DEFAULT, positions=None):
        """per position: exit step, cum probs, top1-top2 logit gap, max|logit|, threshold margin."""
        exit_step, threshold = self._resolve(exit_step, threshold)
        st = self.forward(ids)
        out = []
        for pos in (range(len(ids)) if positions is None else positions):
            cum = cumulative(exit_pdf(st.g[pos]))
            t = select_step(cum, self.T, exit_step, threshold)
            lg = self.head(st.h[pos][t])
            srt = sorted(lg, reverse=True)
            out.append({
                "pos": pos, "step": t, "cum": cum, "gates": st.g[pos],
                "top": max(range(len(lg)), key=lg.__getitem__),
                "gap": srt[0] - srt[1] if len(srt) > 1 else math.inf,
                "scale": max(abs(v) for v in lg),
                "margin": threshold_margin(cum, threshold) if exit_step is None else math.inf,
            })
        return out

    def generate(self, ids, n, exit_step=None, threshold=DEFAULT, eos=DEFAULT, trace=None):
        """greedy; the prompt is not returned; stops before emitting eos.
        trace (a list) receives the diagnostics dict of every decision."""
        if eos is DEFAULT:
            eos = self.eos
        seq = list(ids)
        out = []
        for _ in range(n):
            d = self.diagnostics(seq, exit_step, threshold, positions=[len(seq) - 1])[0]
            if trace is not None:
                trace.append(d)
            nxt = d["top"]
            if eos is not None and nxt == eos:
                break
            out.append(nxt)
            seq.append(nxt)
        return out


def write_logits(path, rows):
    a = array("f")
    for r in rows:
        a.extend(r)
    if sys.byteorder != "little":
        a.byteswap()
    with open(path, "wb") as f:
        a.tofile(f)


def read_logits(path, vocab):
    a = array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    if len(a) % vocab:
        raise ValueError("%s: %d floats is not a multiple of vocab %d" % (path, len(a), vocab))
    return [a[i:i + vocab].tolist() for i in range(0, len(a), vocab)]


def main(argv=None):
    ap = argparse.ArgumentParser(description="float64 reference forward pass for Ouro")
    ap.add_argument("ckpt")
    ap.add_argument("--ids", required=True, help="comma-separated prompt ids")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--exit-step", type=int, default=None, help="HF exit_at_step (0-based)")
    g.add_argument("--threshold", default=None, help='exit threshold q, or "null"')
    ap.add_argument("--logits", help="write float32 LE [n x vocab] logits here")
    ap.add_argument("--generate", type=int, default=0, help="greedy-generate N ids")
    ap.add_argument("--eos", type=int, default=None, help="override eos id (-1: none)")
    ap.add_argument("--report", action="store_true", help="per-position gap/margin report")
    ap.add_argument("--round-bf16", action="store_true")
    ap.add_argument("--kv-bf16", action="store_true")
    a = ap.parse_args(argv)
    ids = [int(s) for s in a.ids.replace(" ", ",").split(",") if s != ""]
    m = Model(a.ckpt, round_bf16=a.round_bf16, kv_bf16=a.kv_bf16)
    if a.threshold is None:
        thr = DEFAULT
    elif a.threshold.lower() in ("null", "none"):
        thr = None
    else:
        thr = float(a.threshold)
    if a.exit_step is not None:
        thr = None
    if a.logits:
        write_logits(a.logits, m.logits(ids, a.exit_step, thr))
    if a.report:
        for d in m.diagnostics(ids, a.exit_step, thr):
            print("pos %d step %d top %d gap %.6g scale %.4g margin %.6g cum %s" % (
                d["pos"], d["step"], d["top"], d["gap"], d["scale"], d["margin"],
                ",".join("%.4f" % c for c in d["cum"])), file=sys.stderr)
    if a.generate:
        eos = DEFAULT if a.eos is None else (None if a.eos < 0 else a.eos)
        print(" ".join(str(t) for t in m.generate(ids, a.generate, a.exit_step, thr, eos)))


if __name__ == "__main__":
    main()
