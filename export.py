#!/usr/bin/env python3
"""Export a Hugging Face Ouro checkpoint to ouro.c's model.bin (and tokenizer.bin).

    python3 export.py <checkpoint_dir> <model.bin> [--dtype bf16|fp32|q8]
    python3 export.py --tokenizer <tokenizer.json> <tokenizer.bin>

Standard library only: config.json and the safetensors files (single or sharded) are parsed
here. Every tensor is checked for presence and shape before anything is written; on any
error the output is not left behind. The model.bin layout is documented in README.md.
"""

import array
import json
import math
import os
import struct
import sys

MAGIC = b"OURO"
VERSION = 1
HEADER_SIZE = 256
ALIGN = 64
WEIGHT_TYPES = {"fp32": 0, "bf16": 1, "q8": 2}
DTYPE_SIZES = {"F32": 4, "BF16": 2, "F16": 2}
CHUNK = 1 << 22  # elements converted at a time, to bound memory on big tensors


class ExportError(Exception):
    pass


# ---------------------------------------------------------------------------
# reading the checkpoint

def read_json_object(path):
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except OSError as e:
        raise ExportError(f"{path}: cannot read: {e.strerror}")
    except ValueError as e:
        raise ExportError(f"{path}: not valid JSON: {e}")
    if not isinstance(obj, dict):
        raise ExportError(f"{path}: not a JSON object")
    return obj


def read_config(ckpt):
    path = os.path.join(ckpt, "config.json")
    cfg = read_json_object(path)

    def get(key, default=None, required=False):
        v = cfg.get(key, default)
        if v is None and required:
            raise ExportError(f"{path}: missing '{key}'")
        return v

    def pos_int(key, default=None):
        v = get(key, default, required=True)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ExportError(f"{path}: '{key}' must be a positive integer, got {v!r}")
        return v

    def token_id(key):
        v = cfg.get(key)
        if isinstance(v, list):
            v = v[0] if v else None
        if v is None:
            return -1
        if isinstance(v, bool) or not isinstance(v, int):
            raise ExportError(f"{path}: '{key}' must be an integer, got {v!r}")
        return v

    c = {}
    c["dim"] = pos_int("hidden_size")
    c["hidden_dim"] = pos_int("intermediate_size")
    c["n_layers"] = pos_int("num_hidden_layers")
    c["n_heads"] = pos_int("num_attention_heads")
    kv = cfg.get("num_key_value_heads")
    c["n_kv_heads"] = c["n_heads"] if kv is None else pos_int("num_key_value_heads")
    hd = cfg.get("head_dim")
    if hd is None:
        if c["dim"] % c["n_heads"]:
            raise ExportError(f"{path}: hidden_size {c['dim']} is not divisible by num_attention_heads {c['n_heads']} and no head_dim is given")
        hd = c["dim"] // c["n_heads"]
    else:
        hd = pos_int("head_dim")
    c["head_dim"] = hd
    c["vocab_size"] = pos_int("vocab_size")
    c["max_seq_len"] = pos_int("max_position_embeddings", 32768)
    c["n_steps"] = pos_int("total_ut_steps", 4)
    c["tied"] = 1 if cfg.get("tie_word_embeddings", False) else 0
    c["bos_id"] = token_id("bos_token_id")
    c["eos_id"] = token_id("eos_token_id")
    for key in ("bos_id", "eos_id"):
        if not -1 <= c[key] < c["vocab_size"]:
            raise ExportError(f"{path}: {key[:3]}_token_id {c[key]} is not in the vocabulary")
    c["rope_theta"] = float(get("rope_theta", 10000.0))
    c["rms_eps"] = float(get("rms_norm_eps", 1e-6))
    # OuroConfig defaults early_exit_threshold to 1.0; an explicit null means "last step"
    thr = cfg.get("early_exit_threshold", 1.0)
    c["exit_threshold"] = math.inf if thr is None else float(thr)
    step = cfg.get("early_exit_step")
    c["exit_step"] = step if isinstance(step, int) and 0 <= step < c["n_steps"] else -1

    if hd % 2:
        raise ExportError(f"{path}: head_dim {hd} is odd; RoPE needs pairs")
    if c["n_heads"] % c["n_kv_heads"]:
        raise ExportError(f"{path}: num_attention_heads {c['n_heads']} is not a multiple of num_key_value_heads {c['n_kv_heads']}")
    if cfg.get("rope_scaling") not in (None, {}) and (cfg["rope_scaling"] or {}).get("rope_type", cfg["rope_scaling"].get("type")) != "default":
        raise ExportError(f"{path}: rope_scaling {cfg['rope_scaling']!r} is not supported (only plain RoPE)")
    if cfg.get("use_sliding_window") or "sliding_attention" in (cfg.get("layer_types") or []):
        raise ExportError(f"{path}: sliding-window attention is not supported")
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        raise ExportError(f"{path}: hidden_act {act!r} is not supported (only silu)")
    if cfg.get("attention_bias") or cfg.get("mlp_bias"):
        raise ExportError(f"{path}: attention/MLP biases are not supported")
    return c


class Tensor:
    def __init__(self, name, path, dtype, shape, begin, end):
        self.name, self.path, self.dtype, self.shape = name, path, dtype, shape
        self.begin, self.end = begin, end

    def read(self):
        with open(self.path, "rb") as f:
            f.seek(self.begin)
            data = f.read(self.end - self.begin)
        if len(data) != self.end - self.begin:
            raise ExportError(f"{self.path}: tensor {self.name} is cut off (file truncated)")
        return data


def read_safetensors_header(path):
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ExportError(f"{path}: too short for a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n > size - 8 or n > 100 << 20:
                raise ExportError(f"{path}: header length {n} is larger than the file")
            header = f.read(n)
    except OSError as e:
        raise ExportError(f"{path}: cannot read: {e.strerror}")
    try:
        meta = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ExportError(f"{path}: corrupt safetensors header: {e}")
    if not isinstance(meta, dict):
        raise ExportError(f"{path}: corrupt safetensors header: not a JSON object")
    data_start, data_size = 8 + n, size - 8 - n
    tensors = {}
    for name, info in meta.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (b, e) = info["dtype"], list(info["shape"]), info["data_offsets"]
            ok = all(isinstance(v, int) and v >= 0 for v in shape + [b, e]) and b <= e
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise ExportError(f"{path}: corrupt safetensors header entry for {name}")
        if e > data_size:
            raise ExportError(f"{path}: tensor {name} ends at byte {e} of a {data_size}-byte data section (file truncated)")
        if dtype in DTYPE_SIZES and math.prod(shape) * DTYPE_SIZES[dtype] != e - b:
            raise ExportError(f"{path}: tensor {name}: {e - b} bytes do not hold shape {shape} of {dtype}")
        tensors[name] = Tensor(name, path, dtype, shape, data_start + b, data_start + e)
    return tensors


def read_tensors(ckpt):
    index = os.path.join(ckpt, "model.safetensors.index.json")
    if os.path.exists(index):
        try:
            with open(index) as f:
                weight_map = json.load(f)["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ExportError(f"{index}: cannot read the weight_map: {e}")
        files = sorted(set(weight_map.values()))
    else:
        files = ["model.safetensors"]
        if not os.path.exists(os.path.join(ckpt, files[0])):
            raise ExportError(f"{ckpt}: neither model.safetensors nor model.safetensors.index.json is there")
    tensors = {}
    for fname in files:
        if os.path.basename(fname) != fname:
            raise ExportError(f"{index}: shard name {fname!r} is not a plain file name")
        tensors.update(read_safetensors_header(os.path.join(ckpt, fname)))
    return tensors


def expected_tensors(c):
    """(name, shape) of every tensor, grouped in model.bin's order."""
    dim, hid, L = c["dim"], c["hidden_dim"], c["n_layers"]
    q_dim, kv_dim = c["n_heads"] * c["head_dim"], c["n_kv_heads"] * c["head_dim"]
    layer = lambda suffix, shape: [(f"model.layers.{i}.{suffix}", shape) for i in range(L)]
    groups = [
        ("embed", "w", [("model.embed_tokens.weight", [c["vocab_size"], dim])]),
        ("input_layernorm", "f", layer("input_layernorm.weight", [dim])),
        ("input_layernorm_2", "f", layer("input_layernorm_2.weight", [dim])),
        ("post_attention_layernorm", "f", layer("post_attention_layernorm.weight", [dim])),
        ("post_attention_layernorm_2", "f", layer("post_attention_layernorm_2.weight", [dim])),
        ("wq", "w", layer("self_attn.q_proj.weight", [q_dim, dim])),
        ("wk", "w", layer("self_attn.k_proj.weight", [kv_dim, dim])),
        ("wv", "w", layer("self_attn.v_proj.weight", [kv_dim, dim])),
        ("wo", "w", layer("self_attn.o_proj.weight", [dim, q_dim])),
        ("w_gate", "w", layer("mlp.gate_proj.weight", [hid, dim])),
        ("w_up", "w", layer("mlp.up_proj.weight", [hid, dim])),
        ("w_down", "w", layer("mlp.down_proj.weight", [dim, hid])),
        ("norm", "f", [("model.norm.weight", [dim])]),
        ("exit_gate_weight", "f", [("model.early_exit_gate.weight", [1, dim])]),
        ("exit_gate_bias", "f", [("model.early_exit_gate.bias", [1])]),
    ]
    if not c["tied"]:
        groups.append(("lm_head", "w", [("lm_head.weight", [c["vocab_size"], dim])]))
    return groups


def check_tensors(tensors, groups):
    for _, _, members in groups:
        for name, shape in members:
            t = tensors.get(name)
            if t is None:
                raise ExportError(f"tensor {name} is missing from the checkpoint")
            if t.dtype not in DTYPE_SIZES:
                raise ExportError(f"tensor {name} has dtype {t.dtype}; supported: BF16, F16, F32")
            if t.shape != shape:
                raise ExportError(f"tensor {name} has shape {t.shape}, expected {shape}")


# ---------------------------------------------------------------------------
# conversions (stdlib only: byte slicing where possible, it runs at C speed)

def to_f32_bytes(t, data):
    """Raw tensor bytes -> float32 little-endian bytes."""
    if t.dtype == "F32":
        return data
    if t.dtype == "BF16":  # bf16 is the top half of a float32
        out = bytearray(len(data) * 2)
        out[2::4] = data[0::2]
        out[3::4] = data[1::2]
        return bytes(out)
    n = len(data) // 2  # F16
    out = bytearray()
    for i in range(0, n, CHUNK):
        m = min(CHUNK, n - i)
        out += struct.pack(f"<{m}f", *struct.unpack_from(f"<{m}e", data, 2 * i))
    return bytes(out)


def f32_to_bf16_bytes(f32):
    """Round to nearest even, as torch does; NaN stays NaN."""
    u = array.array("I")
    u.frombytes(f32)
    if sys.byteorder != "little":
        u.byteswap()
    h = array.array("H", [
        (x >> 16) | 0x40 if (x & 0x7FFFFFFF) > 0x7F800000 else (x + 0x7FFF + ((x >> 16) & 1)) >> 16
        for x in u])
    if sys.byteorder != "little":
        h.byteswap()
    return h.tobytes()


def to_bf16_bytes(t, data):
    if t.dtype == "BF16":
        return data
    return f32_to_bf16_bytes(to_f32_bytes(t, data))


def quantize_q8(f32, cols, gs):
    """Symmetric int8 per group of gs values along a row: q = round(x / s), s = max|x| / 127."""
    x = array.array("f")
    x.frombytes(f32)
    if sys.byteorder != "little":
        x.byteswap()
    q = bytearray(len(x))
    scales = array.array("f")
    for g in range(0, len(x), gs):
        group = x[g:g + gs]
        amax = max(max(group), -min(group))
        s = amax / 127.0 if amax > 0 else 1.0
        scales.append(s)
        inv = 1.0 / s
        q[g:g + gs] = bytes((int(round(v * inv)) & 0xFF) for v in group)
    if sys.byteorder != "little":
        scales.byteswap()
    return bytes(q), scales.tobytes()


def q8_group_size(c):
    gs = 64
    while gs > 1 and any(n % gs for n in (c["dim"], c["hidden_dim"], c["n_heads"] * c["head_dim"])):
        gs //= 2
    return gs


# ---------------------------------------------------------------------------
# writing model.bin

def header_bytes(c, weight_type, group_size):
    h = struct.pack("<4si", MAGIC, VERSION)
    h += struct.pack("<14i", c["dim"], c["hidden_dim"], c["n_layers"], c["n_heads"], c["n_kv_heads"],
                     c["head_dim"], c["vocab_size"], c["max_seq_len"], c["n_steps"], c["tied"],
                     c["bos_id"], c["eos_id"], weight_type, group_size)
    h += struct.pack("<fffi", c["rope_theta"], c["rms_eps"], c["exit_threshold"], c["exit_step"])
    return h + bytes(HEADER_SIZE - len(h))


class Writer:
    def __init__(self, f):
        self.f, self.off = f, 0

    def write(self, b):
        self.f.write(b)
        self.off += len(b)

    def align(self):
        self.write(bytes(-self.off % ALIGN))


def export_model(ckpt, out_path, dtype):
    c = read_config(ckpt)
    tensors = read_tensors(ckpt)
    groups = expected_tensors(c)
    check_tensors(tensors, groups)
    wtype = WEIGHT_TYPES[dtype]
    gs = q8_group_size(c) if dtype == "q8" else 0
    known = {name for _, _, members in groups for name, _ in members}
    extra = sorted(set(tensors) - known - ({"lm_head.weight"} if c["tied"] else set()))
    if extra:
        print(f"note: ignoring {len(extra)} tensor(s) the forward pass does not use: {', '.join(extra[:5])}")

    total = sum(len(m) for _, _, m in groups)
    done = 0
    tmp = out_path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            w = Writer(f)
            w.write(header_bytes(c, wtype, gs))
            for label, kind, members in groups:
                w.align()
                scales = []
                for name, shape in members:
                    t = tensors[name]
                    data = t.read()
                    if kind == "f" or dtype == "fp32":
                        w.write(to_f32_bytes(t, data))
                    elif dtype == "bf16":
                        w.write(to_bf16_bytes(t, data))
                    else:
                        q, s = quantize_q8(to_f32_bytes(t, data), shape[-1], gs)
                        w.write(q)
                        scales.append(s)
                    done += 1
                    print(f"[{done}/{total}] {name} {t.dtype}{shape} -> {label}", flush=True)
                if scales:
                    w.align()
                    for s in scales:
                        w.write(s)
            size = w.off
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    q_dim = c["n_heads"] * c["head_dim"]
    n_params = (c["vocab_size"] * c["dim"] * (1 if c["tied"] else 2) + c["n_layers"] * (
        c["dim"] * (2 * q_dim + 2 * c["n_kv_heads"] * c["head_dim"]) + 3 * c["dim"] * c["hidden_dim"]))
    print(f"wrote {out_path}: {size / 2**20:.1f} MiB, {dtype}, {n_params / 1e6:.2f}M matrix parameters, "
          f"dim {c['dim']}, {c['n_layers']} layers x {c['n_steps']} loop steps, heads {c['n_heads']}/{c['n_kv_heads']}, "
          f"head_dim {c['head_dim']}, vocab {c['vocab_size']}{', tied' if c['tied'] else ''}")


# ---------------------------------------------------------------------------
# tokenizer.bin: the vocab as raw bytes, the merges by rank, the added tokens

TOK_MAGIC = b"OTOK"
TOK_VERSION = 1


def _byte_decoder():
    """GPT-2 byte-level alphabet: printable Latin-1 bytes stand for themselves, the
    other 68 bytes are shifted to U+0100.. in byte order.  Returns char -> byte."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {chr(b): b for b in keep}
    shift = 0
    for b in range(256):
        if b not in keep:
            table[chr(256 + shift)] = b
            shift += 1
    return table


def write_tokenizer(tokenizer_json_path, out_path):
    """Write tokenizer.bin from a byte-level BPE tokenizer.json; refuses a tokenizer that
    uses a feature ouro.c's encoder does not implement."""
    tj = read_json_object(tokenizer_json_path)

    # ---- check that the pipeline is the one ouro.c implements
    def need(cond, what):
        if not cond:
            raise ExportError("%s: unsupported tokenizer: %s" % (tokenizer_json_path, what))

    model = tj.get("model") or {}
    need(model.get("type", "BPE") == "BPE", "model type %r (need BPE)" % model.get("type"))
    need(not model.get("dropout"), "BPE dropout")
    need(not model.get("byte_fallback"), "byte_fallback")
    need(not model.get("continuing_subword_prefix"), "continuing_subword_prefix")
    need(not model.get("end_of_word_suffix"), "end_of_word_suffix")
    need(not model.get("ignore_merges"), "ignore_merges")
    need(tj.get("normalizer") is None, "a normalizer")
    pt = tj.get("pre_tokenizer") or {}
    ok_pt = (pt.get("type") == "Sequence" and len(pt.get("pretokenizers", [])) == 2)
    if ok_pt:
        d, b = pt["pretokenizers"]
        ok_pt = (d.get("type") == "Digits" and d.get("individual_digits") is True
                 and b.get("type") == "ByteLevel" and not b.get("add_prefix_space")
                 and b.get("use_regex", True) is True)
    need(ok_pt, "pre_tokenizer must be Sequence[Digits(individual_digits), "
                "ByteLevel(add_prefix_space=false, use_regex=true)]")
    pp = tj.get("post_processor")
    need(pp is None or (pp.get("type") == "ByteLevel"), "post_processor %r" % (pp and pp.get("type")))

    # ---- vocab: byte-level strings -> raw bytes
    bdec = _byte_decoder()
    vocab = model.get("vocab") or {}
    need(len(vocab) > 0, "empty vocab")
    added = tj.get("added_tokens") or []
    n_vocab = max(list(vocab.values()) + [a["id"] for a in added]) + 1
    text = [None] * n_vocab
    undecodable = set()  # allowed only for added tokens (checked below)
    for s, i in vocab.items():
        need(isinstance(i, int) and i >= 0, "bad vocab id %r" % (i,))
        need(text[i] is None and i not in undecodable, "vocab id %d used twice" % i)
        if all(c in bdec for c in s):
            text[i] = bytes(bdec[c] for c in s)
        else:
            undecodable.add(i)
    added_rows = []
    seen = set()
    for a in added:
        need(not a.get("lstrip") and not a.get("rstrip") and not a.get("single_word"),
             "added token %r with lstrip/rstrip/single_word" % a.get("content"))
        content = a["content"].encode("utf-8")
        need(len(content) > 0, "empty added token")
        need(a["id"] not in seen, "added token id %d twice" % a["id"])
        seen.add(a["id"])
        text[a["id"]] = content       # an added token decodes to its content
        added_rows.append((a["id"], 1 if a.get("special") else 0))
    for i in undecodable:
        need(i in seen, "vocab token %d is not in the byte-level alphabet" % i)
    for i, t in enumerate(text):
        need(t is not None, "no token with id %d" % i)
    # Bytes without a single-byte token are legal (this vocab lacks 21 of them): the HF
    # BPE model, having no unk_token, silently drops such bytes, and so does ouro.c.
    byte_ids = set(t[0] for i, t in enumerate(text) if len(t) == 1 and i not in seen)

    # ---- merges ("a b" strings or ["a", "b"] pairs); rank = order
    merges = []
    for r, m in enumerate(model.get("merges") or []):
        if isinstance(m, str):
            parts = m.split(" ")
            need(len(parts) == 2, "merge %d %r is not 'a b'" % (r, m))
        else:
            parts = list(m)
            need(len(parts) == 2, "merge %d %r is not a pair" % (r, m))
        a, b = parts
        need(a in vocab and b in vocab and (a + b) in vocab,
             "merge %d %r: token not in vocab" % (r, m))
        merges.append((vocab[a], vocab[b], vocab[a + b]))

    # ---- write
    blob = b"".join(text)
    offsets = [0]
    for t in text:
        offsets.append(offsets[-1] + len(t))
    max_len = max(len(t) for t in text)
    out = bytearray()
    out += TOK_MAGIC
    out += struct.pack("<7I", TOK_VERSION, n_vocab, len(merges), len(added_rows),
                       len(blob), max_len, 0)
    out += struct.pack("<%dI" % len(offsets), *offsets)
    for m in merges:
        out += struct.pack("<3I", *m)
    for row in added_rows:
        out += struct.pack("<2I", *row)
    out += blob
    tmp = out_path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(out)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    missing = sorted(set(range(256)) - byte_ids)
    print(f"wrote {out_path}: {n_vocab} tokens, {len(merges)} merges, {len(added_rows)} added tokens, {len(out)} bytes")
    if missing:
        print(f"note: {len(missing)} byte values have no token and are dropped when encoding, "
              f"as Hugging Face does: {' '.join('%02x' % b for b in missing)}")


# ---------------------------------------------------------------------------

USAGE = """usage: python3 export.py <checkpoint_dir> <model.bin> [--dtype bf16|fp32|q8]
       python3 export.py --tokenizer <tokenizer.json> <tokenizer.bin>"""


def main(argv):
    args, dtype, tok_only = [], "bf16", False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--dtype":
            if i + 1 >= len(argv) or argv[i + 1] not in WEIGHT_TYPES:
                raise ExportError("--dtype: expected one of bf16, fp32, q8")
            dtype = argv[i + 1]
            i += 2
            continue
        if a == "--tokenizer":
            tok_only = True
        elif a in ("-h", "--help"):
            print(USAGE)
            return 0
        elif a.startswith("--"):
            raise ExportError(f"{a}: unknown option\n{USAGE}")
        else:
            args.append(a)
        i += 1
    if len(args) != 2:
        raise ExportError(f"expected two paths\n{USAGE}")
    if tok_only:
        write_tokenizer(args[0], args[1])
        return 0
    ckpt, out = args
    if not os.path.isdir(ckpt):
        raise ExportError(f"{ckpt}: not a checkpoint directory")
    export_model(ckpt, out, dtype)
    tok_json = os.path.join(ckpt, "tokenizer.json")
    if os.path.exists(tok_json):
        tok_out = os.path.join(os.path.dirname(os.path.abspath(out)), "tokenizer.bin")
        write_tokenizer(tok_json, tok_out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ExportError as e:
        print(f"export.py: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"export.py: {e.filename}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
