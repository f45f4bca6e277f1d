"""A classic feature CRF (python-crfsuite) beside the per-token logistic regression of rnnkit diagnose,
on WNUT17 (emerging entities) or any CoNLL-U / CoNLL file: what a linear-chain model reaches from the
training file alone, with no gazetteers and no pretrained embeddings.

    pip install python-crfsuite                 # for this script only; not an rnnkit dependency
    python benchmarks/tag_feature_crf.py wnut17                           # 4 CRFs of 200 iterations + 1 LR
    python benchmarks/tag_feature_crf.py --data my.conll --test my_test.conll --format conll
    python benchmarks/tag_feature_crf.py wnut17 --grid 0,0.1 0.1,0.1 --max-iterations 100

Both models read each token through ``rnnkit.tag.baseline.token_features`` (the word lowercased, its
shape, affixes, case, the two words either side), the CRF also the classic extras of tweet taggers
(``features``: neighbours' shape and case, hashtag/mention/URL marks, a two-letter prefix, the length).
For each ``(c1, c2)`` of ``--grid`` a CRF is trained on the training part (L-BFGS, every transition
between tags possible, ``--max-iterations``) and scored on the validation part; the pair of best
validation score (span F1 for entity tags, else token accuracy; the first pair on a tie) is scored on
the test part once. ``rnnkit.tag.baseline.TokenClassifier`` is fitted on the same training sentences and
scored on both parts. The parts are the files given, or carved from ``--data`` as ``rnnkit train``
carves them (``--seed``); spans are scored by ``rnnkit.tag.metrics`` (seqeval's default mode, as
conlleval counts). L-BFGS and the logistic regression are deterministic. Models are written to a
temporary folder under ``--out`` and removed. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rnnkit.core.errors import RnnkitError
from rnnkit.tag import data as rundata
from rnnkit.tag import metrics
from rnnkit.tag.baseline import TokenClassifier, token_features, word_shape
from rnnkit.tag.formats import TagDataConfig
from rnnkit.tag.scheme import ENTITY_SCHEMES
from tag_benchmark import SETS, add_file_options, file_data, named_data  # (this script's folder is on sys.path)

GRID = [(0.0, 0.1), (0.1, 0.1), (0.05, 0.05), (0.25, 0.01)]  # (c1, c2): L1 and L2 penalties
LR_NAME = "per-token logistic regression (token_features only), no CRF"


def parse_pair(text: str) -> tuple[float, float]:
    try:
        c1, c2 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give C1,C2, e.g. 0,0.1") from None
    if c1 < 0 or c2 < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: c1 and c2 must be >= 0")
    return c1, c2


def features(tokens: list[str]) -> list[dict[str, float]]:
    """``token_features`` of each token (without the zero-valued ones, which add nothing to a CRF) and, for the
    CRF only, the classic extras of entity taggers on tweets: the neighbours' shape and case, hashtag, mention
    and URL marks, a two-letter prefix, the length, and the sentence's last token."""
    out = []
    for i, w in enumerate(tokens):
        f = {k: v for k, v in token_features(tokens, i).items() if v}
        f.update({f"pre2={w[:2].lower()}": 1.0, f"len={min(len(w), 8)}": 1.0})
        f.update({k: 1.0 for k, on in (("hash", w.startswith("#")), ("at", w.startswith("@")),
                                       ("url", w.lower().startswith(("http", "www."))), ("title", w.istitle()),
                                       ("last", i == len(tokens) - 1)) if on})
        for d in (-1, 1):
            if 0 <= i + d < len(tokens):
                v = tokens[i + d]
                f[f"shape{d:+d}={word_shape(v)}"] = 1.0
                if v.istitle():
                    f[f"title{d:+d}"] = 1.0
        out.append(f)
    return out


def parts_of(cfg: TagDataConfig, seed: int) -> tuple[dict[str, list], str]:
    """The sentences of each part (train, val, test), as ``rnnkit train`` splits them, and the tag scheme."""
    new = rundata.prepare(cfg, seed)
    _, scheme, notes = rundata.check(new, cfg)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    parts = {p: [s for s, q in zip(new.sentences, new.parts) if q == p] for p in ("train", "val", "test")}
    empty = [p for p, ss in parts.items() if not ss]
    if empty:
        raise RnnkitError(f"the {empty[0]} part has no sentences; give --validation and --test files, or a larger "
                          f"--data")
    return parts, scheme


def key_score(ev: dict) -> float:
    """What chooses (c1, c2): span F1 where there are entity spans, else token accuracy."""
    return ev["spans"]["f1"] if "spans" in ev else ev["accuracy"]


def cells(ev: dict | None, entity: bool) -> list[str]:
    if ev is None:
        return [""] * (3 if entity else 1)
    if entity:
        return [f"{100 * ev['spans'][k]:.2f}" for k in ("f1", "precision", "recall")]
    return [f"{ev['accuracy']:.2%}"]


def row(*parts) -> str:
    return "| " + " | ".join(str(p) for p in parts) + " |"


def header(entity: bool) -> str:
    scores = ["{} span F1", "{} P", "{} R"] if entity else ["{} token accuracy"]
    names = [s.format(part) for part in ("validation", "test") for s in scores]
    return (row("model", "c1", "c2", *names, "training s") + "\n"
            + "|---|" + "---:|" * (len(names) + 3))


def run(args) -> int:
    try:
        import pycrfsuite
    except ImportError:
        print("tag_feature_crf: error: python-crfsuite is not installed: pip install python-crfsuite "
              "(a benchmark-only dependency, not rnnkit's)", file=sys.stderr)
        return 2
    if args.data and args.set:
        raise RnnkitError("name a set or give --data FILE, not both")
    if args.data:
        name, data = file_data(args)
    elif args.set:
        if args.set not in SETS:
            raise RnnkitError(f"no named set {args.set!r}; name {', '.join(SETS)}, or give --data FILE")
        name, data = args.set, named_data(args.set)
    else:
        raise RnnkitError(f"name a set ({', '.join(SETS)}) or give --data FILE")
    missing = [data[k] for k in ("data", "validation", "test") if data.get(k) and not Path(data[k]).is_file()]
    if missing:
        raise RnnkitError(f"no file {missing[0]}" + ("; the named sets need ../shared/data" if args.set else ""))
    cfg = TagDataConfig(**data)
    parts, scheme = parts_of(cfg, args.seed)
    entity = scheme in ENTITY_SCHEMES
    tokens = {p: [s.tokens for s in ss] for p, ss in parts.items()}
    gold = {p: [s.tags for s in ss] for p, ss in parts.items()}
    sizes = ", ".join(f"{p} {len(ss):,} sentences ({sum(map(len, tokens[p])):,} tokens)" for p, ss in parts.items())
    print(f"{name}: {sizes}; scheme {scheme}; python-crfsuite {package('python-crfsuite')}, "
          f"scikit-learn {package('scikit-learn')}, seqeval {package('seqeval')}; L-BFGS, "
          f"{args.max_iterations} iterations at most\n")
    xs = {p: [pycrfsuite.ItemSequence(features(ws)) for ws in tokens[p]] for p in parts}

    args.out.mkdir(parents=True, exist_ok=True)
    rows, best = [], None
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        for c1, c2 in args.grid:
            model = Path(tmp) / f"crf-{c1:g}-{c2:g}.crfsuite"
            t = time.perf_counter()
            trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
            for x, y in zip(xs["train"], gold["train"]):
                trainer.append(x, y)
            trainer.set_params({"c1": c1, "c2": c2, "max_iterations": args.max_iterations,
                                "feature.possible_transitions": True})
            trainer.train(str(model))
            seconds = time.perf_counter() - t
            tagger = pycrfsuite.Tagger()
            tagger.open(str(model))
            ev = metrics.score(gold["val"], [tagger.tag(x) for x in xs["val"]], scheme)
            rows.append([c1, c2, ev, seconds, model])
            print(f"c1={c1:g} c2={c2:g}: {len(trainer.logparser.iterations)} iterations, {seconds:.0f} s, validation "
                  f"{cells(ev, entity)[0]}", file=sys.stderr, flush=True)
            if best is None or key_score(ev) > key_score(best[2]):
                best = rows[-1]
            tagger.close()
        tagger = pycrfsuite.Tagger()
        tagger.open(str(best[4]))
        best_test = metrics.score(gold["test"], [tagger.tag(x) for x in xs["test"]], scheme)
        tagger.close()

    t = time.perf_counter()
    lr = TokenClassifier(tokens["train"], gold["train"], seed=args.seed)
    lr_seconds = time.perf_counter() - t
    lr_val, lr_test = (metrics.score(gold[p], lr.predict(tokens[p]), scheme) for p in ("val", "test"))

    lines = [row("feature CRF (chosen on validation)" if r is best else "feature CRF", f"{r[0]:g}", f"{r[1]:g}",
                 *cells(r[2], entity), *cells(best_test if r is best else None, entity), f"{r[3]:.0f}")
             for r in rows]
    lines.append(row(LR_NAME, "", "", *cells(lr_val, entity), *cells(lr_test, entity), f"{lr_seconds:.0f}"))
    print(header(entity) + "\n" + "\n".join(lines))
    print(f"\nThe CRF was scored on the test part once, with the pair chosen on validation (c1={best[0]:g}, "
          f"c2={best[1]:g}); the logistic regression has nothing to choose.")
    return 0


def package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("set", nargs="?", metavar="SET", help=f"a named set: {', '.join(SETS)}")
    add_file_options(p)
    p.add_argument("--seed", type=int, default=0, help="the split of a file without parts (as rnnkit train --seed); "
                                                       "the logistic regression's seed")
    p.add_argument("--grid", nargs="+", type=parse_pair, default=GRID, metavar="C1,C2",
                   help="the CRF's (c1, c2) pairs to choose from on validation (default: "
                        f"{' '.join(f'{a:g},{b:g}' for a, b in GRID)})")
    p.add_argument("--max-iterations", type=int, default=200, help="L-BFGS iterations of each CRF at most")
    p.add_argument("--out", type=Path, default=Path("runs/tag-feature-crf"),
                   help="where the models are written (a temporary folder, removed at the end)")
    args = p.parse_args()
    try:
        return run(args)
    except RnnkitError as e:
        print(f"tag_feature_crf: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
