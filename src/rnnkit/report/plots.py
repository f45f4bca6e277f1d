"""The training plots of a report, drawn from a run's ``metrics.jsonl`` rows.

Training rows (``kind: train``) carry ``step``, ``loss``, ``lr``, ``elapsed`` (seconds) and,
when the trainer logs them, ``grad_norm`` (before clipping) and ``clip_rate`` (share of
clipped steps in the logging interval); validation rows (``kind: val``) carry ``val_loss``, the
trainer's validation score: a loss, or an error rate for a run with ``train.select = "error"``.
A plot whose quantities the rows lack is left out.
"""

from __future__ import annotations

from .sections import Image, figure_image


def _series(rows: list[dict], kind: str, x: str, y: str) -> tuple[list[float], list[float]]:
    pts = [(r[x], r[y]) for r in rows if r.get("kind") == kind and r.get(x) is not None and r.get(y) is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def _axes(title: str, xlabel: str, ylabel: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def loss_curves(rows: list[dict], x: str, xlabel: str, score: str = "loss") -> Image | None:
    """Training loss and the validation score against ``x`` (``step`` or ``elapsed``); ``score``
    ``error``: the run validated by error (``train.select``), drawn on its own axis on the right."""
    train, val = _series(rows, "train", x, "loss"), _series(rows, "val", x, "val_loss")
    if not train[0] and not val[0]:
        return None
    error = score == "error"
    fig, ax = _axes(f"loss{' and validation error' if error else ''} against {xlabel}", xlabel, "loss")
    if train[0]:
        ax.plot(*train, lw=1, marker="." if len(train[0]) <= 50 else None, label="training (running, dropout on)")
    if val[0]:
        on = ax.twinx() if error else ax
        on.plot(*val, "o-", ms=3, color="tab:orange", label="validation error (right axis)" if error else "validation")
        if error:
            on.set_ylabel("validation error")
    lines = [line for a in fig.axes for line in a.get_lines()]
    ax.legend(lines, [line.get_label() for line in lines])
    fig.tight_layout()
    what = "validation error" if score == "error" else "validation loss"
    return figure_image(fig, f"training loss and {what} against {xlabel}")


def learning_rate(rows: list[dict]) -> Image | None:
    steps, lr = _series(rows, "train", "step", "lr")
    if not steps:
        return None
    fig, ax = _axes("learning rate", "step", "learning rate")
    ax.plot(steps, lr, marker="." if len(steps) <= 50 else None)
    fig.tight_layout()
    return figure_image(fig, "learning rate against step")


def gradients(rows: list[dict]) -> Image | None:
    """Gradient norm before clipping (log scale) and the clip rate, when the rows have them."""
    norm, rate = _series(rows, "train", "step", "grad_norm"), _series(rows, "train", "step", "clip_rate")
    if not norm[0] and not rate[0]:
        return None
    fig, ax = _axes("gradients", "step", "gradient norm (before clipping)")
    if norm[0]:
        ax.plot(*norm, color="tab:blue", label="gradient norm")
        if min(norm[1]) > 0:
            ax.set_yscale("log")
    if rate[0]:
        ax2 = ax.twinx()
        ax2.plot(*rate, color="tab:red", lw=1, label="clip rate")
        ax2.set_ylabel("share of clipped steps")
        ax2.set_ylim(-0.02, 1.02)
        ax2.legend(loc="upper right")
    if norm[0]:
        ax.legend(loc="upper left")
    fig.tight_layout()
    return figure_image(fig, "gradient norm before clipping and share of clipped steps against step")


def training_images(rows: list[dict], score: str = "loss") -> list[Image]:
    images = [loss_curves(rows, "step", "step", score), loss_curves(rows, "elapsed", "wall time (s)", score),
              learning_rate(rows), gradients(rows)]
    return [im for im in images if im is not None]
