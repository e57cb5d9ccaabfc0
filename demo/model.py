"""The Ouro architecture in PyTorch, for the demo's training (train.py) and evaluation (eval.py).

Written from /work/shared/OURO.md: one stack of L decoder layers applied T times with the same
weights; sandwich RMSNorms (input_layernorm before attention, input_layernorm_2 on its output,
post_attention_layernorm before the MLP, post_attention_layernorm_2 on its output);
rotate-half RoPE; causal attention (GQA when kv_heads < heads); SwiGLU MLP; no biases except
the exit gate's; the final norm after EVERY loop step, its output feeding the next step; the
exit gate Linear(hidden, 1) reads each step's normed state.

Parameter names are the Hugging Face ones (model.layers.{i}.self_attn.q_proj.weight, ...), so
state_dict() is the checkpoint. Also: the safetensors writer/reader (BF16, by hand) and the
config.json this model is described by.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, vocab_size, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=4, head_dim=None, max_position_embeddings=256,
                 rope_theta=10000.0, rms_norm_eps=1e-6, total_ut_steps=4, early_exit_threshold=1.0,
                 tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, **_):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        self.rms_norm_eps = rms_norm_eps
        self.total_ut_steps = total_ut_steps
        self.early_exit_threshold = early_exit_threshold
        self.tie_word_embeddings = tie_word_embeddings
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id

    def to_hf(self):
        return {
            "architectures": ["OuroForCausalLM"],
            "model_type": "ouro",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rope_scaling": None,
            "rms_norm_eps": self.rms_norm_eps,
            "total_ut_steps": self.total_ut_steps,
            "early_exit_threshold": self.early_exit_threshold,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "attention_bias": False,
            "use_cache": True,
            "torch_dtype": "bfloat16",
        }


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(cfg, n, dtype):
    d = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]  # [n, d/2]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        h, kv, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, h * d, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, kv * d, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, kv * d, bias=False)
        self.o_proj = nn.Linear(h * d, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask):
        B, S, _ = x.shape
        h, kv, d = self.cfg.num_attention_heads, self.cfg.num_key_value_heads, self.cfg.head_dim
        q = self.q_proj(x).view(B, S, h, d).transpose(1, 2)
        k = self.k_proj(x).view(B, S, kv, d).transpose(1, 2)
        v = self.v_proj(x).view(B, S, kv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if kv != h:  # query head i uses kv head i // (h / kv)
            k = k.repeat_interleave(h // kv, dim=1)
            v = v.repeat_interleave(h // kv, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d)) + mask
        att = att.softmax(-1)
        return self.o_proj((att @ v).transpose(1, 2).reshape(B, S, h * d))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e = cfg.rms_norm_eps
        self.input_layernorm = RMSNorm(cfg.hidden_size, e)
        self.self_attn = Attention(cfg)
        self.input_layernorm_2 = RMSNorm(cfg.hidden_size, e)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, e)
        self.mlp = MLP(cfg)
        self.post_attention_layernorm_2 = RMSNorm(cfg.hidden_size, e)

    def forward(self, x, cos, sin, mask):
        x = x + self.input_layernorm_2(self.self_attn(self.input_layernorm(x), cos, sin, mask))
        return x + self.post_attention_layernorm_2(self.mlp(self.post_attention_layernorm(x)))


class Body(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Layer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.early_exit_gate = nn.Linear(cfg.hidden_size, 1, bias=True)


class Ouro(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Body(cfg)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def head(self, h):
        w = self.model.embed_tokens.weight if self.cfg.tie_word_embeddings else self.lm_head.weight
        return h @ w.t()

    def forward(self, ids, steps=None):
        """ids [B, S] (positions 0..S-1) -> (states [T, B, S, hidden], gate logits [B, S, T]).
        states[t] is the final-normed state after loop step t+1."""
        cfg = self.cfg
        B, S = ids.shape
        x = self.model.embed_tokens(ids)
        cos, sin = rope_tables(cfg, S, x.dtype)
        mask = torch.full((S, S), float("-inf"), dtype=x.dtype).triu(1)  # added to the scores
        states = []
        for _ in range(steps or cfg.total_ut_steps):
            for layer in self.model.layers:
                x = layer(x, cos, sin, mask)
            x = self.model.norm(x)
            states.append(x)
        states = torch.stack(states)
        gates = self.model.early_exit_gate(states).squeeze(-1).permute(1, 2, 0)
        return states, gates


def exit_log_probs(gates):
    """gates [..., T] -> log p_t: p_t = lambda_t prod_{j<t}(1 - lambda_j), lambda = sigmoid(g);
    the last step takes the remainder prod_{j<T-1}(1 - lambda_j)."""
    T = gates.shape[-1]
    log_stay = F.logsigmoid(-gates[..., :T - 1]).cumsum(-1)  # log prod_{j<=t}(1 - lambda_j)
    before = torch.cat([torch.zeros_like(gates[..., :1]), log_stay], dim=-1)  # prod_{j<t}
    log_exit = torch.cat([F.logsigmoid(gates[..., :T - 1]), torch.zeros_like(gates[..., :1])], dim=-1)
    return before + log_exit


def exit_steps(gates, threshold):
    """Per position, the first step (0-based) whose cumulative exit probability >= threshold,
    else the last step: the rule of ouro.c and the HF reference. gates [..., T] (float64)."""
    T = gates.shape[-1]
    cum = exit_log_probs(gates.double()).exp().cumsum(-1)
    hit = cum >= threshold
    hit[..., T - 1] = True
    return hit.to(torch.int64).argmax(-1), cum


# ---------------------------------------------------------------- safetensors, by hand
def save_safetensors(path, tensors):
    """tensors: {name: float tensor}, written as BF16 (round to nearest even)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """{name: float32 tensor} from a BF16/F32 safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = bytearray(data[a:b])
        if info["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16).float()
        elif info["dtype"] == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32).clone()
        else:
            raise ValueError(f"{path}: {name}: dtype {info['dtype']} not handled")
        out[name] = t.reshape(info["shape"])
    return out


def load_checkpoint(ckpt_dir, dtype=torch.float64):
    with open(f"{ckpt_dir}/config.json") as f:
        cfg = Config(**json.load(f))
    model = Ouro(cfg)
    model.load_state_dict(load_safetensors(f"{ckpt_dir}/model.safetensors"))
    return model.to(dtype).eval(), cfg
