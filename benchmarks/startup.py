"""Start-up time: ``import rnnkit`` and the help of the command, wall time of a fresh interpreter.

    python benchmarks/startup.py                          # this checkout
    python benchmarks/startup.py --base /tmp/old/src      # and another source tree, side by side

Each command runs --repeats times in a new process; the table shows the best (least disturbed by
other work on the machine) and the median, in seconds, and whether torch was imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c 'pass' (the interpreter alone)": "pass",
    "import rnnkit": "import rnnkit",
    "rnnkit --help": "--help",
    "rnnkit train --help": "train --help",
    "rnnkit train --task forecast --help": "train --task forecast --help",
    "rnnkit tune --help": "tune --help",
}
PROBE = "import sys; print('torch' in sys.modules, file=sys.stderr)"


def script(what: str) -> str:
    if what in ("pass", "import rnnkit"):
        return f"{what}; {PROBE}"
    return (f"import sys\nfrom rnnkit.cli import main\ntry:\n    main({what.split()!r})\nexcept SystemExit:\n    pass\n"
            f"{PROBE}")


def measure(what: str, src: str | None, repeats: int) -> tuple[float, float, bool]:
    env = dict(os.environ, **({"PYTHONPATH": src} if src else {}))
    times, torch = [], False
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", script(what)], capture_output=True, text=True, env=env, check=True)
        times.append(time.perf_counter() - t)
        torch = p.stderr.strip().splitlines()[-1] == "True"
    return min(times), statistics.median(times), torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=None, help="another rnnkit source tree (its src folder) to time beside this one")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    trees = [("this checkout", None)] + ([("base", args.base)] if args.base else [])
    print("| command | " + " | ".join(f"{n}: best / median s (torch?)" for n, _ in trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for label, what in COMMANDS.items():
        cells = []
        for _, src in trees:
            best, median, torch = measure(what, src, args.repeats)
            cells.append(f"{best:.2f} / {median:.2f} ({'torch' if torch else 'no torch'})")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
