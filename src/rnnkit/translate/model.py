"""The encoder-decoder translator (rnn-guide.md, "Encoder-decoder sequence-to-sequence").

An encoder RNN reads the source sentence; its final state, through a small "bridge" layer,
is the context vector C that starts the decoder RNN, which writes the target one token at a
time, each step reading the token before it (the gold token while training: teacher forcing).
With ``--attention none`` that is all (the seeds' design); with ``bahdanau`` or ``luong`` the
decoder also looks at every encoder state at every step, padding masked::

    source  (B, S) ids ── embed ── encoder (bi)RNN ──> memory (B, S, H) ──┐ attention
                                        └─ final state ── bridge ──> decoder state (layers, B, H)
    target  (B, T) ids ── embed ── decoder RNN ──> h_t ── [h_t; context_t] ── tanh(W_c .) ──> logits (B, T, V)

* ``luong`` (Luong et al. 2015, "general" score, no input feeding): the decoder RNN does not
  read the context, so under full teacher forcing all T steps run as one fused RNN call and
  attention is one batched product - the fast path on a CPU.
* ``bahdanau`` (Bahdanau et al. 2015): the context computed from the previous state is part of
  the RNN's input, so training steps through time.

A bidirectional encoder has ``hidden_size / 2`` units per direction so that its memory has
``hidden_size`` features. ``tie_embeddings`` shares the target embedding with the output layer
(Press & Wolf 2017), which is why the attentional vector ``tanh(W_c [h; c])`` has the
embedding's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.config import check_choices, option, require
from ..nn.attention import Attention
from ..nn.cells import State
from ..nn.recurrent import RecurrentStack, fused, reorder, step
from ..core.pieces import BOS, PAD


@dataclass
class Seq2SeqConfig:
    cell: str = option("gru", "recurrent cell of the encoder and the decoder: rnn (tanh), lstm or gru",
                       ("rnn", "lstm", "gru"))
    layers: int = option(1, "recurrent layers in the encoder and in the decoder")
    hidden_size: int = option(512, "decoder units, and encoder units over both directions")
    embedding_size: int = option(384, "size of the source and target token embeddings")
    dropout: float = option(0.0, "dropout on embeddings, between layers and before the output layer (0: a budget "
                            "of a few epochs underfits; raise it, e.g. 0.2-0.3, for long training on small data)")
    bidirectional: bool = option(True, "read the source forward and backward (--no-bidirectional: forward only)")
    attention: str = option("luong", "none (the encoder's final state is the only context), bahdanau (additive) "
                            "or luong (multiplicative)", ("none", "bahdanau", "luong"))
    tie_embeddings: bool = option(True, "share the target embedding with the output layer")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("layers", "hidden_size", "embedding_size"):
            require(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(not self.bidirectional or self.hidden_size % 2 == 0, "hidden_size",
                f"must be even for a bidirectional encoder (half per direction), got {self.hidden_size}")


@dataclass
class Memory:
    """What the decoder reads of an encoded batch; rows can be selected (beam search, finished rows)."""

    states: torch.Tensor  # (B, S, H) encoder outputs
    keys: torch.Tensor | None  # (B, S, A) the attention's projection of them
    mask: torch.Tensor  # (B, S) True at real tokens

    def select(self, index: torch.Tensor) -> "Memory":
        return Memory(self.states.index_select(0, index),
                      None if self.keys is None else self.keys.index_select(0, index), self.mask.index_select(0, index))


class Seq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig, source_vocab: int, target_vocab: int):
        super().__init__()
        self.cfg = cfg
        H, E, L = cfg.hidden_size, cfg.embedding_size, cfg.layers
        directions = 2 if cfg.bidirectional else 1
        self.source_embed = nn.Embedding(source_vocab, E, padding_idx=PAD)
        self.target_embed = nn.Embedding(target_vocab, E, padding_idx=PAD)
        self.encoder = RecurrentStack(cfg.cell, E, H // directions, L, cfg.dropout, cfg.bidirectional)
        self.bridge = nn.Linear(H, L * H)  # C -> the decoder's initial state of every layer
        self.bridge_cell = nn.Linear(H, L * H) if cfg.cell == "lstm" else None
        self.attention = None if cfg.attention == "none" else Attention(cfg.attention, H, H)
        self.decoder = fused(cfg.cell, E + (H if cfg.attention == "bahdanau" else 0), H, L, cfg.dropout)
        self.combine = nn.Linear(H * (1 if self.attention is None else 2), E)
        self.out = nn.Linear(E, target_vocab)
        if cfg.tie_embeddings:
            self.out.weight = self.target_embed.weight
        self.drop = nn.Dropout(cfg.dropout)

    # -- encoder ----------------------------------------------------------------------------
    def encode(self, source: torch.Tensor, lengths: torch.Tensor) -> tuple[Memory, State]:
        """``source (B, S)``, ``lengths (B,)`` -> the memory and the decoder's initial state."""
        B, S = source.shape
        states, final = self.encoder(self.drop(self.source_embed(source)), lengths)  # (B, S, H)
        context = self.encoder.last_layer_final(final)  # (B, H): the guide's context vector C
        L, H = self.cfg.layers, self.cfg.hidden_size
        h0 = torch.tanh(self.bridge(context)).view(B, L, H).transpose(0, 1).contiguous()  # (L, B, H)
        state: State = h0
        if self.bridge_cell is not None:
            state = (h0, torch.tanh(self.bridge_cell(context)).view(B, L, H).transpose(0, 1).contiguous())
        mask = torch.arange(S, device=source.device)[None, :] < lengths.to(source.device)[:, None]
        keys = None if self.attention is None else self.attention.keys(states)
        return Memory(states, keys, mask), state

    # -- decoder ----------------------------------------------------------------------------
    def _logits(self, h: torch.Tensor, memory: Memory, context: torch.Tensor | None = None):
        """Decoder outputs ``h (B, T, H)`` -> ``(logits (B, T, V), attention weights (B, T, S) | None)``."""
        weights = None
        if self.attention is not None:
            if context is None:  # luong: attend with the new state
                context, weights = self.attention(h, memory.keys, memory.states, memory.mask)
            h = torch.cat([h, context], dim=-1)
        return self.out(self.drop(torch.tanh(self.combine(self.drop(h))))), weights

    def decode_step(self, previous: torch.Tensor, state: State, memory: Memory):
        """One step: ``previous (B,)`` token ids -> ``(logits (B, V), state, weights (B, S) | None)``."""
        x = self.drop(self.target_embed(previous))  # (B, E)
        context = weights = None
        if self.cfg.attention == "bahdanau":  # attend with the previous state, feed the context in
            top = (state[0] if isinstance(state, tuple) else state)[-1]  # (B, H)
            context, weights = self.attention(top[:, None], memory.keys, memory.states, memory.mask)
            x = torch.cat([x, context[:, 0]], dim=-1)
        if self.training:  # the fused layer applies dropout between layers
            h, state = self.decoder(x[:, None], state)
        else:
            h, state = step(self.decoder, self.cfg.cell, x, state)
            h = h[:, None]
        logits, luong = self._logits(h, memory, context)
        weights = luong if weights is None else weights
        return logits[:, 0], state, (None if weights is None else weights[:, 0])

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, target_in: torch.Tensor,
                teacher_forcing: float = 1.0) -> torch.Tensor:
        """Training: ``target_in (B, T)`` (BOS + target) -> ``logits (B, T, V)`` for the next tokens.

        With ``teacher_forcing`` below 1 each step reads the model's own previous prediction
        instead of the gold token with probability ``1 - teacher_forcing`` (scheduled
        sampling, Bengio et al. 2015), which steps through time.
        """
        memory, state = self.encode(source, lengths)
        if self.cfg.attention != "bahdanau" and teacher_forcing >= 1.0:
            h, _ = self.decoder(self.drop(self.target_embed(target_in)), state)  # (B, T, H), one fused call
            return self._logits(h, memory)[0]
        steps = []
        previous = target_in[:, 0]
        for t in range(target_in.size(1)):
            logits, state, _ = self.decode_step(previous, state, memory)
            steps.append(logits)
            if t + 1 < target_in.size(1):
                gold = target_in[:, t + 1]
                if teacher_forcing < 1.0:
                    own = logits.detach().argmax(-1)
                    use_gold = torch.rand(gold.shape, device=gold.device) < teacher_forcing
                    gold = torch.where(use_gold | (gold == PAD), gold, own)
                previous = gold
        return torch.stack(steps, dim=1)

    @staticmethod
    def reorder_state(state: State, index: torch.Tensor) -> State:
        return reorder(state, index)

    def start_tokens(self, batch: int, device: torch.device) -> torch.Tensor:
        return torch.full((batch,), BOS, dtype=torch.long, device=device)
