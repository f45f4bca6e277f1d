"""Text <-> ids for both languages of a translator: a tokenizer and a vocabulary per side.

Both are fitted on the training split only (the tokenizer's subwords, the vocabulary's
frequencies), stored in the run and in every checkpoint (JSON, plus the SentencePiece model
bytes as a ``uint8`` tensor), so a checkpoint translates without the data folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import RnnkitError
from ..core.tokenize import Tokenizer, TokenizerConfig, tokenizer_from_state, tokenizer_state, train_tokenizer
from ..core.pieces import Vocabulary

SIDES = ("source", "target")


@dataclass
class Codec:
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    source_vocab: Vocabulary
    target_vocab: Vocabulary

    @classmethod
    def fit(cls, cfg: TokenizerConfig, sources: list[str], targets: list[str], seed: int) -> "Codec":
        """Tokenizers and vocabularies learned from the training sentences of each side."""
        src_tok = train_tokenizer(cfg, sources, seed)
        tgt_tok = train_tokenizer(cfg, targets, seed)
        src_vocab = Vocabulary.build((src_tok.encode(s) for s in sources), cfg.min_freq, cfg.max_vocab)
        tgt_vocab = Vocabulary.build((tgt_tok.encode(s) for s in targets), cfg.min_freq, cfg.max_vocab)
        return cls(src_tok, tgt_tok, src_vocab, tgt_vocab)

    def pieces(self, side: str, text: str) -> list[str]:
        return (self.source_tokenizer if side == "source" else self.target_tokenizer).encode(text)

    def encode(self, side: str, text: str) -> np.ndarray:
        """A sentence -> its ids, without BOS/EOS (unknown pieces -> UNK)."""
        vocab = self.source_vocab if side == "source" else self.target_vocab
        return np.array(vocab.encode(self.pieces(side, text), add_bos=False, add_eos=False), dtype=np.int64)

    def decode_target(self, ids: list[int]) -> str:
        return self.target_tokenizer.decode(self.target_vocab.decode(ids))

    # -- storing ----------------------------------------------------------------------------
    def to_meta(self) -> tuple[dict, dict[str, torch.Tensor]]:
        meta, tensors = {}, {}
        for side, tok, vocab in (("source", self.source_tokenizer, self.source_vocab),
                                 ("target", self.target_tokenizer, self.target_vocab)):
            info, blob = tokenizer_state(tok)
            meta[side] = {"tokenizer": info, "vocab": vocab.to_json()}
            if blob:
                tensors[f"tokenizer/{side}"] = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
        return meta, tensors

    @classmethod
    def from_meta(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> "Codec":
        try:
            parts = {}
            for side in SIDES:
                blob = tensors.get(f"tokenizer/{side}")
                parts[side] = (tokenizer_from_state(meta[side]["tokenizer"], b"" if blob is None else blob.numpy().tobytes()),
                               Vocabulary.from_json(meta[side]["vocab"]))
        except (KeyError, TypeError) as e:
            raise RnnkitError(f"the translator's tokenizer or vocabulary is missing from the checkpoint ({e}); it is damaged")
        return cls(parts["source"][0], parts["target"][0], parts["source"][1], parts["target"][1])
