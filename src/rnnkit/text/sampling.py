"""Generating text from any model with the ``logits, state = model(tokens, state)`` call.

The prime text is read once; after that every new token is fed with the carried state, so a
token costs one recurrent step, not a re-read of a window (the seed re-reads its 10-char
window for every character). Models trained on the seed's window objective only ever saw
``window`` tokens of context, so for them the last ``window`` tokens are re-read instead.
The unknown token ``<unk>`` is never drawn (it is not text) unless ``allow_unk`` asks for it.
Torch is imported when generating, so the exported runtime (``runtime.py``) reads ``SampleConfig``
without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..core.config import option, require

if TYPE_CHECKING:
    import torch


@dataclass
class SampleConfig:
    length: int = option(500, "number of tokens to generate")
    temperature: float = option(1.0, "softmax temperature; below 1 is safer, above 1 more surprising")
    greedy: bool = option(False, "always take the most likely token (the seed's argmax)")
    top_k: int = option(0, "sample only among the k most likely tokens (0 = all)")
    top_p: float = option(1.0, "sample only from the smallest set of tokens with this much probability")
    prime: str = option("", "text the model reads before generating (printed as part of each sample)")
    num_samples: int = option(1, "number of independent samples")
    seed: int = option(0, "random seed for sampling")
    int8: bool = option(True, "on a CPU, step the recurrent layers with int8 weights (dynamic quantization: "
                        "faster per token, next-token probabilities close to fp32's); --no-int8 keeps fp32")
    allow_unk: bool = option(False, "let samples contain <unk>; by default it is never drawn (its probability is "
                             "shared out among the other tokens, as top-k shares out the dropped ones)")

    def __post_init__(self) -> None:
        require(self.length >= 1, "length", f"must be at least 1, got {self.length}")
        require(self.temperature > 0, "temperature", f"must be positive, got {self.temperature} (use --greedy for argmax)")
        require(self.top_k >= 0, "top_k", f"must be 0 or more, got {self.top_k}")
        require(0 < self.top_p <= 1, "top_p", f"must be in (0, 1], got {self.top_p}")
        require(self.num_samples >= 1, "num_samples", f"must be at least 1, got {self.num_samples}")


def next_token(logits: torch.Tensor, cfg: SampleConfig, generator: torch.Generator | None) -> torch.Tensor:
    """Pick one token per row of ``logits (B, V)``; returns ``(B,)`` int64."""
    import torch

    if cfg.greedy:
        return logits.argmax(dim=-1)
    logits = logits.float() if cfg.temperature == 1.0 else logits.float() / cfg.temperature
    if cfg.top_k and cfg.top_k < logits.size(-1):
        kth = logits.topk(cfg.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cum - sorted_logits.softmax(dim=-1) >= cfg.top_p  # keep the first token past top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    # Inverse-CDF draw: the first token whose cumulative probability reaches u ~ U(0, 1).
    # (Same distribution as torch.multinomial, a tenth of its cost per call on a CPU.)
    cdf = logits.softmax(dim=-1).cumsum(dim=-1)
    u = torch.rand(cdf.size(0), 1, generator=generator, device=cdf.device) * cdf[:, -1:]
    return (cdf < u).sum(dim=-1).clamp_(max=cdf.size(-1) - 1)


def generate(model, prime: list[int], cfg: SampleConfig, device: torch.device | str = "cpu",
             window: int | None = None, unk: int | None = None,
             on_token: Callable[[list[int]], None] | None = None) -> list[list[int]]:
    """Return ``cfg.num_samples`` lists of ``cfg.length`` new token ids following ``prime``.

    ``prime`` must hold at least one token. With ``window`` set, each step re-reads the last
    ``window`` tokens from a fresh state (for models trained on the window objective). The id
    ``unk`` (the vocabulary's ``<unk>``) is never drawn unless ``cfg.allow_unk``. ``on_token``, if given,
    is called after each step with the new id of every sample (``num_samples`` ints): what streams them.
    """
    import torch

    assert prime, "generation needs at least one prime token"
    with torch.inference_mode():
        return _generate(model, prime, cfg, torch.device(device), window, unk, on_token)


def _generate(model, prime: list[int], cfg: SampleConfig, device: "torch.device", window: int | None,
              unk: int | None, on_token: Callable[[list[int]], None] | None = None) -> list[list[int]]:
    import torch

    if cfg.int8 and device.type == "cpu" and hasattr(model, "int8_steps"):
        model = model.int8_steps()
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    banned = None if unk is None or cfg.allow_unk else unk

    def pick(logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B,)
        if banned is not None:
            logits = logits.clone()
            logits[:, banned] = float("-inf")
        return next_token(logits, cfg, generator)

    B = cfg.num_samples
    history = torch.tensor(prime, dtype=torch.long, device=device).expand(B, -1)  # (B, P)
    out: list[torch.Tensor] = []
    if window is None:
        logits, state = model(history, None)
        for _ in range(cfg.length):
            tok = pick(logits[:, -1])  # (B,)
            out.append(tok)
            if on_token is not None:
                on_token(tok.tolist())
            logits, state = model(tok[:, None], state)
    else:
        context = history[:, -window:]
        for _ in range(cfg.length):
            logits, _ = model(context, None)
            tok = pick(logits[:, -1])
            out.append(tok)
            if on_token is not None:
                on_token(tok.tolist())
            context = torch.cat([context[:, 1:] if context.size(1) >= window else context, tok[:, None]], dim=1)
    return torch.stack(out, dim=1).tolist()
