"""Translation quality: BLEU and chrF by sacrebleu, against every reference of each source.

Scores are computed on detokenized text with sacrebleu's defaults (BLEU: its 13a tokenizer,
case-sensitive; chrF: character 6-grams, beta 2), the way published results are compared, and
each comes with sacrebleu's signature so a reader knows exactly what was computed. Sources
with fewer references than others get ``None`` in the missing streams (sacrebleu's convention
for a variable number of references).
"""

from __future__ import annotations

from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF


@dataclass
class Quality:
    bleu: float
    chrf: float
    signature: dict[str, str]  # sacrebleu's signature of each metric


def reference_streams(references: list[list[str]]) -> list[list[str | None]]:
    """Per-sentence reference lists -> sacrebleu's streams (one list per reference index)."""
    width = max((len(r) for r in references), default=0)
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]


def quality(hypotheses: list[str], references: list[list[str]]) -> Quality:
    """Corpus BLEU and chrF of ``hypotheses[i]`` against all of ``references[i]``."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    streams = reference_streams(references)
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hypotheses, streams)
    c = chrf.corpus_score(hypotheses, streams)
    return Quality(b.score, c.score, {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())})
