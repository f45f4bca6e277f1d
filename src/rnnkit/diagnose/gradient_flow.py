"""Gradient flow through time: how much a loss at the last step still reaches earlier hidden states.

rnn-guide.md explains why a vanilla RNN forgets: backpropagation through time multiplies the
gradient by the recurrent Jacobian once per step back, so ``dL/dh_{T-k}`` shrinks (or grows)
geometrically in ``k``; gated cells (LSTM, GRU) keep an additive path that lets it through.
This module measures exactly that quantity on a model and the user's data::

    x_1 ... x_T  ->  h_1 ... h_T  ->  loss L at step T only
    norm[k] = || dL / dh_{T-k} ||      k = 0 (the last step) ... T-1 steps back

The stack is run one time step at a time (its own forward on ``(B, 1, I)`` slices, so the
fused PyTorch layers, rnnkit's explicit cells and any module with the same call work), and
each step's hidden state keeps its gradient (``retain_grad``). ``h`` is the hidden state of
every layer, ``(layers, B, H)``; an LSTM's memory cell ``c`` is not included.

Each sequence's loss is summed, not averaged, so a sequence's hidden-state gradients are the
gradients of its own loss; the norms are then averaged over the sequences.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.errors import RnnkitError
from ..core.fileio import save_figure

SHOWN_BACK = (1, 10, 25, 50)  # steps back printed in the table


def hidden_gradient_norms(rnn: nn.Module, x: torch.Tensor, last_loss: Callable[[torch.Tensor], torch.Tensor],
                          state=None) -> torch.Tensor:
    """Per-sequence norms of the gradient of a last-step loss w.r.t. every earlier hidden state.

    ``rnn(x_t (B, 1, I), state) -> (out (B, 1, H), state)`` with ``state`` a tensor
    ``(layers, B, H)`` or a pair ``(h, c)`` of those (PyTorch's ``batch_first`` call);
    ``x (B, T, I)``; ``last_loss(h_T (B, H)) -> (B,)``, one loss per sequence, of the top
    layer's last hidden state (a unidirectional stack's last output). Returns
    ``(B, T)``: column ``k`` is ``||dL/dh_{T-k}||`` of each sequence (column 0: the last step).
    """
    assert x.dim() == 3, f"x must be (B, T, I), got {tuple(x.shape)}"
    x = x.detach().requires_grad_(True)  # so every hidden state is in the graph, even with frozen weights
    hs = []
    for t in range(x.size(1)):
        _, state = rnn(x[:, t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state  # (layers, B, H)
        h.retain_grad()
        hs.append(h)
    loss = last_loss(hs[-1][-1])  # the top layer's last state, the same numbers as the last output
    assert loss.shape == (x.size(0),), f"last_loss must return one loss per sequence, got {tuple(loss.shape)}"
    loss.sum().backward()
    grads = torch.stack([h.grad if h.grad is not None else torch.zeros_like(h) for h in reversed(hs)])  # (T, L, B, H)
    return grads.permute(2, 0, 1, 3).flatten(2).norm(dim=-1).detach()  # (B, T)


def lm_gradient_norms(model: nn.Module, windows: torch.Tensor) -> np.ndarray:
    """Mean over sequences of ``||dL/dh_{T-k}||`` for a recurrent language model (``rnn_lm.py``).

    ``windows (N, T + 1)`` token ids: the model reads the first ``T`` and the loss is the
    cross-entropy of the last one, predicted at step ``T``. Returns ``(T,)``, index ``k`` =
    ``k`` steps back. Runs on a float64 copy in evaluation mode (no dropout), since a vanilla
    RNN's gradient falls below float32's smallest number (1e-45) within a hundred steps; the
    model itself is untouched.
    """
    model = copy.deepcopy(model).double().eval().requires_grad_(False)
    windows = windows.to(model.head.weight.device)
    with torch.enable_grad():
        if model.embed is None:
            x = F.one_hot(windows[:, :-1], model.vocab_size).to(model.head.weight.dtype)  # (N, T, V)
        else:
            x = model.embed(windows[:, :-1])  # (N, T, E)
        target = windows[:, -1]

        def last_loss(out: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(model.head(out), target, reduction="none")

        norms = hidden_gradient_norms(model.rnn, x, last_loss)
    return norms.mean(0).cpu().numpy()


def sample_windows(tokens: np.ndarray, length: int, count: int, seed: int) -> torch.Tensor:
    """``count`` windows of ``length + 1`` tokens at seeded random places: ``(count, length + 1)``."""
    if len(tokens) < length + 1:
        raise RnnkitError(f"--length {length} needs sequences of {length + 1} tokens, but the text has only "
                          f"{len(tokens)}; use a lower --length or a longer text")
    starts = np.random.default_rng(seed).integers(0, len(tokens) - length, size=count)
    return torch.from_numpy(np.stack([tokens[s:s + length + 1] for s in starts]).astype(np.int64))


@dataclass
class GradientFlow:
    """Mean gradient norm ``k`` steps back (index ``k``) for each measured model."""

    norms: dict[str, np.ndarray]  # label -> (length,)
    length: int
    sequences: int
    source: str  # the data or run measured

    def at(self, label: str, back: int) -> float:
        return float(self.norms[label][back])

    def shown_back(self) -> list[int]:
        return [k for k in SHOWN_BACK if k < self.length]

    def to_dict(self) -> dict:
        return {"length": self.length, "sequences": self.sequences, "source": self.source,
                "norms": {label: [float(v) for v in n] for label, n in self.norms.items()},
                "at": {label: {str(k): self.at(label, k) for k in self.shown_back()} for label in self.norms}}

    def table(self) -> str:
        """Markdown table of the norm at 1, 10, 25 and 50 steps back (those within the length)."""
        back = self.shown_back()
        lines = ["| model | " + " | ".join(f"{k} back" for k in back) + " |",
                 "|---|" + "---:|" * len(back)]
        for label in self.norms:
            lines.append(f"| {label} | " + " | ".join(f"{self.at(label, k):.3g}" for k in back) + " |")
        return "\n".join(lines)

    def plot(self, path: str | Path) -> None:
        """One line per model, gradient norm (log scale) against steps back, to a PNG file."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for label, n in self.norms.items():
            ax.plot(np.arange(self.length), np.where(n > 0, n, np.nan), label=label)  # 0 has no place on a log scale
        ax.set_yscale("log")
        ax.set_xlabel("steps back from the loss")
        ax.set_ylabel("mean ||dL / dh||")
        ax.set_title(f"gradient flow through time ({self.sequences} sequences of {self.source})")
        ax.legend()
        ax.grid(True, which="major", alpha=0.3)
        fig.tight_layout()
        save_figure(fig, Path(path))


def of_run(run: str | Path, length: int = 100, sequences: int = 16, seed: int = 0,
           split: str = "val") -> GradientFlow:
    """Gradient flow of a trained recurrent language model, on windows of its own ``split``."""
    from .. import tasks
    from ..text import api, textdata

    run = Path(run)
    spec = tasks.of_run(run)
    if spec.name != "lm":
        raise RnnkitError(f"{run} is a {spec.kind} run; gradient-flow measures language-model runs "
                          f"(or pass --cells with --data)")
    lm = api.load(run, mix=False)
    if lm.config.model != "rnn" or api.is_infill(lm):
        raise RnnkitError(f"{run} is not a left-to-right recurrent language model (an n-gram or an infill run); "
                          f"gradient-flow measures those only")
    run_dir = run if run.is_dir() else run.parent
    tokens = textdata.open_prepared(run_dir, lm.vocab).part(split)
    norms = lm_gradient_norms(lm.model, sample_windows(tokens, length, sequences, seed))
    label = f"{lm.config.rnn.cell} ({run_dir.name})"
    return GradientFlow({label: norms}, length, sequences, f"{run_dir.name}'s {split} split")


def of_cells(cells: list[str], config, steps: int = 0, length: int = 100, sequences: int = 16,
             seed: int = 0) -> GradientFlow:
    """Gradient flow of one fresh (``steps=0``) or briefly trained model per cell on ``config.data``.

    ``config`` is an :class:`~rnnkit.text.language_model.LMConfig` whose ``rnn.cell`` is replaced
    by each of ``cells``; training (``steps`` optimizer steps, sequences of ``length``) uses
    rnnkit's own loop, in a temporary folder that is removed afterwards.
    """
    from ..text import api, textdata
    from ..text.language_model import build_model

    unknown = [c for c in cells if c not in ("rnn", "lstm", "gru")]
    if unknown or not cells:
        raise RnnkitError(f"--cells: choose among rnn, lstm and gru, got {' '.join(cells) or 'none'}")
    norms: dict[str, np.ndarray] = {}
    tmp = Path(tempfile.mkdtemp(prefix="rnnkit-gradient-flow-"))
    try:
        corpus = None
        for cell in cells:
            cfg = dataclasses.replace(config, rnn=dataclasses.replace(config.rnn, cell=cell),
                                      train=dataclasses.replace(config.train, steps=steps or None, seq_len=length),
                                      mix=dataclasses.replace(config.mix, mix_order=0))
            if steps:
                api.train(cfg, tmp / cell)
                lm = api.load(tmp / cell, mix=False)
                model, tokens = lm.model, textdata.open_prepared(tmp / cell, lm.vocab).part("val")
            else:
                if corpus is None:
                    (tmp / "data").mkdir()
                    corpus = textdata.prepare(cfg.data, tmp / "data")
                torch.manual_seed(cfg.train.seed)
                model, tokens = build_model(cfg, len(corpus.vocab)), corpus.part("val")
            norms[cell] = lm_gradient_norms(model, sample_windows(tokens, length, sequences, seed))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    trained = f"trained {steps} steps" if steps else "untrained"
    return GradientFlow(norms, length, sequences, f"{Path(config.data.data).name}, {trained}")
