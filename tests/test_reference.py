#!/usr/bin/env python3
"""Self-consistency checks of tests/reference.py (no C program needed).

    python3 tests/test_reference.py [--workdir DIR]

Prints one line per check and ends with "N passed, M failed"; exit status 1 on failure.
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the repo
import make_checkpoint as mc  # noqa: E402
import reference as ref  # noqa: E402

RESULTS = []


def check(ok, msg):
    RESULTS.append(bool(ok))
    print("%s %s" % ("PASS" if ok else "FAIL", msg))


def maxrel(a, b):
    num = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    den = max(abs(y) for rb in b for y in rb)
    return num / den


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir")
    a = ap.parse_args()
    wd = a.workdir or tempfile.mkdtemp(prefix="ouro_refself_")
    os.makedirs(wd, exist_ok=True)
    base = dict(hidden=32, inter=48, layers=2, heads=4, steps=3, vocab=97, theta=10000.0)
    ids = [5, 17, 3, 88, 42, 7, 60]

    # 1. exit pdf sums to one and select_step semantics
    g = [0.3, -1.2, 2.0, 0.1]
    p = ref.exit_pdf(g)
    check(abs(sum(p) - 1.0) < 1e-12 and all(v >= 0 for v in p), "exit pdf sums to 1: %s" % p)
    lam = [ref.sigmoid(v) for v in g]
    check(abs(p[1] - lam[1] * (1 - lam[0])) < 1e-15 and abs(p[3] - (1 - lam[0]) * (1 - lam[1]) * (1 - lam[2])) < 1e-15,
          "exit pdf p_t = lam_t prod(1-lam_j), last = remainder")
    cum = ref.cumulative(p)
    check(ref.select_step(cum, 4, None, None) == 3, "no threshold -> last step")
    check(ref.select_step(cum, 4, 1, 0.0) == 1, "exit_step wins over threshold")
    check(ref.select_step(cum, 4, None, cum[1]) == 1, "threshold equal to cum -> that step (>=)")
    check(ref.select_step(cum, 4, None, 2.0) == 3, "threshold never reached -> last step")
    check(ref.select_step(cum, 4, None, 0.0) == 0, "threshold 0 -> step 0")

    # 2. dtype / sharding equivalence
    d1 = os.path.join(wd, "f32_single")
    d3 = os.path.join(wd, "f32_shard3")
    mc.make_checkpoint(d1, dtype="F32", seed=11, **base)
    mc.make_checkpoint(d3, dtype="F32", shards=3, seed=11, **base)
    m1 = ref.Model(d1)
    m3 = ref.Model(d3)
    l1 = m1.logits(ids)
    check(maxrel(m3.logits(ids), l1) == 0.0, "3-shard F32 == single-file F32")
    db = os.path.join(wd, "bf16")
    mc.make_checkpoint(db, dtype="BF16", seed=11, **base)
    mb = ref.Model(db)
    mr = ref.Model(d1, round_bf16=True)
    e = maxrel(mb.logits(ids), l1)
    check(1e-4 < e < 0.1, "BF16 checkpoint close to F32 (rel %.2e, lossy as expected)" % e)
    e2 = maxrel(mr.logits(ids), l1)
    check(1e-5 < e2 < 0.1, "round_bf16 reference close to F32 (rel %.2e)" % e2)
    mb2 = ref.Model(db, round_bf16=True)
    check(maxrel(mb2.logits(ids), mb.logits(ids)) == 0.0, "round_bf16 is the identity on a BF16 checkpoint")
    df = os.path.join(wd, "f16")
    mc.make_checkpoint(df, dtype="F16", seed=11, **base)
    e3 = maxrel(ref.Model(df).logits(ids), l1)
    check(e3 < 1e-2, "F16 checkpoint close to F32 (rel %.2e)" % e3)
    dm = os.path.join(wd, "mixed")
    mc.make_checkpoint(dm, dtype="F32,F32,F32", shards=3, seed=11, **base)
    check(maxrel(ref.Model(dm).logits(ids), l1) == 0.0, "dtype list F32,F32,F32 == F32")

    # 3. tied == untied with lm_head := embed
    dt = os.path.join(wd, "tied")
    mc.make_checkpoint(dt, dtype="F32", seed=11, tied=True, **base)
    mt = ref.Model(dt)
    du = os.path.join(wd, "untied_copy")
    shutil.copytree(dt, du)
    with open(os.path.join(du, "config.json")) as f:
        cfg = json.load(f)
    cfg["tie_word_embeddings"] = False
    with open(os.path.join(du, "config.json"), "w") as f:
        json.dump(cfg, f)
    _, ttens = ref.load_checkpoint(dt)
    items = []
    for k in sorted(ttens):
        _, shp, vals = ttens[k]
        items.append((k, "F32", shp, mc.encode(vals, "F32")))
    _, shp, vals = ttens["model.embed_tokens.weight"]
    items.append(("lm_head.weight", "F32", shp, mc.encode(vals, "F32")))
    mc.write_safetensors(os.path.join(du, "model.safetensors"), items, {"format": "pt"})
    mu = ref.Model(du)
    check(maxrel(mu.logits(ids), mt.logits(ids)) == 0.0, "tied == untied with lm_head = embed")
    # tied checkpoint has the same non-head weights as the untied one (lm_head drawn last)
    check(mt.layers[1]["wd"] == m1.layers[1]["wd"] and mt.gate_b == m1.gate_b,
          "tied/untied checkpoints share all other weights (same seed)")

    # 4. RoPE: identity at position 0, norm-preserving, relative
    v = [random.Random(1).gauss(0, 1) for _ in range(m1.n_heads * m1.head_dim)]
    check(m1.rope(v, m1.n_heads, 0) == v, "RoPE at position 0 is the identity")
    r5 = m1.rope(v, m1.n_heads, 5)
    check(abs(sum(x * x for x in r5) - sum(x * x for x in v)) < 1e-9, "RoPE preserves the norm")
    w = [random.Random(2).gauss(0, 1) for _ in range(m1.n_heads * m1.head_dim)]
    hd = m1.head_dim

    def dot_head(a_, b_):
        return sum(a_[i] * b_[i] for i in range(hd))
    d_a = dot_head(m1.rope(v, m1.n_heads, 7), m1.rope(w, m1.n_heads, 3))
    d_b = dot_head(m1.rope(v, m1.n_heads, 14), m1.rope(w, m1.n_heads, 10))
    check(abs(d_a - d_b) < 1e-9, "RoPE scores depend only on relative position")
    # rotate-half pairing: element i pairs with i + hd/2
    e0 = [0.0] * len(v)
    e0[0] = 1.0
    r = m1.rope(e0, m1.n_heads, 1)
    nz = [i for i, x in enumerate(r) if abs(x) > 1e-12]
    check(nz == [0, hd // 2] and abs(r[0] - math.cos(1.0)) < 1e-12 and abs(r[hd // 2] - math.sin(1.0)) < 1e-12,
          "RoPE rotates (x[0], x[hd/2]) by pos*inv_freq[0]=1 rad")

    # 5. GQA == MHA with duplicated k/v heads
    dg = os.path.join(wd, "gqa")
    mc.make_checkpoint(dg, dtype="F32", seed=12, **dict(base, kv_heads=2))
    mg = ref.Model(dg)
    lg = mg.logits(ids)
    grp = mg.n_heads // mg.n_kv_heads
    for lw in mg.layers:
        for key in ("wk", "wv"):
            W = lw[key]
            lw[key] = [W[(h // grp) * hd + d] for h in range(mg.n_heads) for d in range(hd)]
    mg.n_kv_heads = mg.n_heads
    mg._cache.clear()
    check(maxrel(mg.logits(ids), lg) < 1e-13, "GQA == MHA with duplicated kv heads")

    # bf16 kv-cache simulation: small but non-zero change
    ek = maxrel(ref.Model(d1, kv_bf16=True).logits(ids), l1)
    check(1e-5 < ek < 3e-2, "kv_bf16 reference close to exact (rel %.2e)" % ek)

    # 6. causality: logits of a prefix equal the first rows of a longer sequence
    lp = m1.logits(ids[:4])
    check(maxrel(lp, l1[:4]) < 1e-13, "causal: prefix logits == first rows of longer sequence")
    # changing a later token does not change earlier rows; changing an earlier one does
    alt = list(ids)
    alt[-1] = (alt[-1] + 1) % m1.vocab
    la = m1.logits(alt)
    check(maxrel(la[:-1], l1[:-1]) < 1e-13 and maxrel(la[-1:], l1[-1:]) > 1e-6,
          "causal: only the last row changes when the last token changes")

    # 7. exit selection uses the right step: exit_step t logits == head(h_t)
    st = m1.forward(ids)
    for t in range(m1.T):
        lt = m1.logits(ids, exit_step=t)
        same = maxrel(lt, [m1.head(st.h[p][t]) for p in range(len(ids))]) == 0.0
        check(same, "exit_step=%d picks step %d state" % (t, t))
    check(maxrel(m1.logits(ids, threshold=None), m1.logits(ids, exit_step=m1.T - 1)) == 0.0,
          "threshold null == last step")
    # steps differ from each other (the loop matters)
    check(maxrel(m1.logits(ids, exit_step=0), m1.logits(ids, exit_step=m1.T - 1)) > 1e-3,
          "different loop steps give different logits")
    # gate probabilities spread (init sanity)
    lams = [ref.sigmoid(gv) for p_ in range(len(ids)) for gv in st.g[p_]]
    check(min(lams) < 0.35 and max(lams) > 0.65, "gate sigmoid spread %.2f..%.2f" % (min(lams), max(lams)))
    # T loop with T=1 equivalent to exit_step 0 of the T=3 model (same weights)
    d1s = os.path.join(wd, "one_step")
    mc.make_checkpoint(d1s, dtype="F32", seed=11, **dict(base, steps=1))
    check(maxrel(ref.Model(d1s).logits(ids), m1.logits(ids, exit_step=0)) == 0.0,
          "total_ut_steps=1 model == exit_step 0 of the T=3 model")

    # 8. generate == argmax chain of logits; eos stops without emitting
    gen = m1.generate(ids, 5, eos=None)
    seq = list(ids)
    chain = []
    for _ in range(5):
        row = m1.logits(seq)[-1]
        t = max(range(len(row)), key=row.__getitem__)
        chain.append(t)
        seq.append(t)
    check(gen == chain, "generate == argmax chain %s" % gen)
    if len(gen) > 1:
        e_id = gen[1]
        cut = gen.index(e_id)
        check(m1.generate(ids, 5, eos=e_id) == gen[:cut], "generation stops before eos %d" % e_id)

    # 9. writer/reader round trip incl. header padding
    path = os.path.join(wd, "rt.safetensors")
    vals = [0.1, -2.5, 3.0, 65504.0, -0.0, 1e-3]
    mc.write_safetensors(path, [("a", "BF16", [2, 3], mc.encode(vals, "BF16")),
                                ("b", "F16", [6], mc.encode(vals, "F16")),
                                ("c", "F32", [3, 2], mc.encode(vals, "F32"))], {"format": "pt"})
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
    check(n % 8 == 0, "header length multiple of 8 (%d)" % n)
    rt = ref.read_safetensors(path)
    check(rt["a"][2] == [ref.bf16_round(x) for x in vals], "BF16 round trip = RNE rounding")
    check(rt["b"][2][:3] == [0.0999755859375, -2.5, 3.0], "F16 round trip")
    check(rt["c"][1] == [3, 2] and abs(rt["c"][2][0] - 0.1) < 1e-8, "F32 round trip")
    check(mc.f32_to_bf16_bits([1.0 + 2 ** -8])[0] == 0x3F80 and mc.f32_to_bf16_bits([1.0 + 3 * 2 ** -8])[0] == 0x3F82,
          "BF16 ties round to even")

    npass = sum(RESULTS)
    nfail = len(RESULTS) - npass
    if not a.workdir:
        shutil.rmtree(wd, ignore_errors=True)
    print("%d passed, %d failed" % (npass, nfail))
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
