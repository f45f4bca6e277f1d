"""Start-up time: ``import rnnkit`` and the help of the command, wall time of a fresh interpreter.

    python benchmarks/startup.py                          # this checkout
    python benchmarks/startup.py --base /tmp/old/src      # and another source tree, side by side

Each command runs --repeats times in a new process; the table shows the best wall time (least
disturbed by other work on the machine), the best CPU time (user + system: less sensitive to a busy
machine), in seconds, and whether torch was imported.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(what: str, src: str | None, repeats: int) -> tuple[float, float, bool]:
    """Best wall time, best CPU time of the child, and whether it imported torch."""
    env = dict(os.environ, **({"PYTHONPATH": src} if src else {}))
    wall, cpu, torch = [], [], False
    for _ in range(repeats):
        t, c = time.perf_counter(), _cpu()
        p = subprocess.run([sys.executable, "-c", script(what)], capture_output=True, text=True, env=env, check=True)
        wall.append(time.perf_counter() - t)
        cpu.append(_cpu() - c)
        torch = p.stderr.strip().splitlines()[-1] == "True"
    return min(wall), min(cpu), torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=None, help="another rnnkit source tree (its src folder) to time beside this one")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    trees = [("this checkout", None)] + ([("base", args.base)] if args.base else [])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| command | " + " | ".join(f"{n}: wall / CPU s (torch?)" for n, _ in trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for label, what in COMMANDS.items():
        cells = []
        for _, src in trees:
            wall, cpu, torch = measure(what, src, args.repeats)
            cells.append(f"{wall:.2f} / {cpu:.2f} ({'torch' if torch else 'no torch'})")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
