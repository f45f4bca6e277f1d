"""Rolling-origin backtest of rnnkit's default forecaster against baselines on four real series.

    python benchmarks/forecast_backtest.py                 # all four series, ~10-15 minutes on 2 cores
    python benchmarks/forecast_backtest.py --series airline --set model.cell=lstm

Protocol (issue 8): 5 non-overlapping origins at the end of each series; horizons airline 12,
daily-min-temperatures 30, monthly-sunspots 24, S&P 500 close from 2000 20; MASE seasons 12,
365, 12, 1 (seasonal naive uses the same season). statsforecast's AutoETS and AutoARIMA are
included when installed (pip install 'rnnkit[forecast]'), with seasons 12, 1, 12, 5 (a season
of 365 makes AutoETS fit a non-seasonal model slowly). Prints a table of mean MASE per model
and the seconds each model took, and (issue 39) the intervals' coverage and MSIS per level for
rnnkit (its configured intervals, and the same median with model, conformal-scaled and
conformal-absolute intervals) and every baseline; writes every backtest under --out.

    python benchmarks/forecast_backtest.py --choose     # the choosing protocol: origins BEFORE the reported ones

``--choose`` cuts each long series (temperatures, sunspots, S&P 500; airline is too short) at
its first reported origin (the data's ``end`` option) and backtests the 5 origins before it:
defaults are chosen on those, never on the reported origins.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from rnnkit.core.config import from_dict, merge, settings
from rnnkit.forecast import backtest as bt
from rnnkit.forecast.series import read_series
from rnnkit.forecast.task import ForecastConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SERIES = {  # name: (file, column, start, horizon, MASE season, statsforecast season)
    "airline": ("airline-passengers.csv", "Passengers", "", 12, 12, 12),
    "temperatures": ("daily-min-temperatures.csv", "Temp", "", 30, 365, 1),
    "sunspots": ("monthly-sunspots.csv", "Sunspots", "", 24, 12, 12),
    "sp500": ("sp500-gspc-daily.csv", "Close", "2000-01-01", 20, 1, 5),
}
MODELS = ("rnnkit", "naive", "seasonal_naive", "drift", "ar", "autoets", "autoarima")  # backtest rows, variants aside


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="+", choices=list(SERIES), default=list(SERIES))
    p.add_argument("--out", type=Path, default=Path("runs/forecast-backtest"))
    p.add_argument("--origins", type=int, default=5)
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.OPTION=VALUE", help="override a default option")
    p.add_argument("--no-statsforecast", action="store_true")
    p.add_argument("--choose", action="store_true", help="score the origins before the reported ones (long series)")
    args = p.parse_args()
    if not DATA.is_dir():
        print(f"no data folder at {DATA}; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    overrides = settings(args.set)
    rows = []
    for name in args.series:
        file, column, start, H, m, sf_season = SERIES[name]
        if args.choose and name == "airline":
            continue  # too short to cut: 144 points, 60 of them reported
        cfg = from_dict(ForecastConfig, merge({"data": {"data": str(DATA / file), "column": column, "start": start},
                                               "model": {"horizon": H}}, overrides))
        series = read_series(cfg.data)
        if args.choose:  # end the series just before the first reported origin
            cut = series.dates[len(series) - args.origins * H - 1]
            cfg.data.end = str(cut)
            series = read_series(cfg.data)
        t0 = time.perf_counter()
        models = tuple(x for x in MODELS if not (args.no_statsforecast and x in ("autoets", "autoarima")))
        res = bt.backtest(cfg, args.out / name, args.origins, m, series=series, models=models,
                          statsforecast_season=sf_season)
        rows.append((name, H, res, time.perf_counter() - t0))
        print(f"\n## {name} (horizon {H}, MASE season {m}, {len(res.origins)} origins from {res.origins[0]}; "
              f"{len(series)} points to {series.dates[-1]})\n\n{bt.markdown(res)}", flush=True)
    print("\n## Mean MASE over the origins (lower is better; seconds for all origins in brackets)\n")
    names = [n for n in MODELS if any(n in r.scores for _, _, r, _ in rows)]
    print("| series (horizon) | " + " | ".join(names) + " | total s |")
    print("|---|" + "---:|" * (len(names) + 1))
    total = 0.0
    for name, H, res, secs in rows:
        total += secs
        best = min(res.scores[n]["mase"] for n in names if n in res.scores)
        cells = []
        for n in names:
            if n not in res.scores:
                cells.append("-")
                continue
            v = res.scores[n]["mase"]
            cells.append((f"**{v:.3f}**" if v == best else f"{v:.3f}") + f" ({res.seconds[n]:.0f})")
        print(f"| {name} ({H}) | " + " | ".join(cells) + f" | {secs:.0f} |")
    print("\n## Intervals: coverage 80% / 95% and MSIS 95 (lower is better) per model\n")
    print("| model | " + " | ".join(f"{name}" for name, *_ in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for n in dict.fromkeys(k for _, _, r, _ in rows for k in r.scores):
        cells = []
        for _, _, res, _ in rows:
            sc = res.scores.get(n)
            cells.append("-" if sc is None else
                         f"{sc['coverage80']:.0%} / {sc['coverage95']:.0%}, {sc['msis95']:.2f}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print(f"\ntotal: {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
