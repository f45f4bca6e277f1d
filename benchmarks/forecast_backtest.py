"""Rolling-origin backtest of rnnkit's default forecaster against baselines on four real series.

    python benchmarks/forecast_backtest.py                 # all four series, ~10-15 minutes on 2 cores
    python benchmarks/forecast_backtest.py --series airline --set model.cell=lstm

Protocol (issue 8): 5 non-overlapping origins at the end of each series; horizons airline 12,
daily-min-temperatures 30, monthly-sunspots 24, S&P 500 close from 2000 20; MASE seasons 12,
365, 12, 1 (seasonal naive uses the same season). statsforecast's AutoETS and AutoARIMA are
included when installed (pip install 'rnnkit[forecast]'), with seasons 12, 1, 12, 5 (a season
of 365 makes AutoETS fit a non-seasonal model slowly). Prints a table of mean MASE per model
and the seconds each model took; writes every backtest under --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from rnnkit.core.config import from_dict, merge, settings
from rnnkit.forecast import backtest as bt
from rnnkit.forecast import baselines
from rnnkit.forecast.series import read_series
from rnnkit.forecast.task import ForecastConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SERIES = {  # name: (file, column, start, horizon, MASE season, statsforecast season)
    "airline": ("airline-passengers.csv", "Passengers", "", 12, 12, 12),
    "temperatures": ("daily-min-temperatures.csv", "Temp", "", 30, 365, 1),
    "sunspots": ("monthly-sunspots.csv", "Sunspots", "", 24, 12, 12),
    "sp500": ("sp500-gspc-daily.csv", "Close", "2000-01-01", 20, 1, 5),
}
MODELS = ("rnnkit", "naive", "seasonal_naive", "drift", "ar", "autoets", "autoarima")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="+", choices=list(SERIES), default=list(SERIES))
    p.add_argument("--out", type=Path, default=Path("runs/forecast-backtest"))
    p.add_argument("--origins", type=int, default=5)
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.OPTION=VALUE", help="override a default option")
    p.add_argument("--no-statsforecast", action="store_true")
    args = p.parse_args()
    if not DATA.is_dir():
        print(f"no data folder at {DATA}; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    overrides = settings(args.set)
    rows = []
    for name in args.series:
        file, column, start, H, m, sf_season = SERIES[name]
        cfg = from_dict(ForecastConfig, merge({"data": {"data": str(DATA / file), "column": column, "start": start},
                                               "model": {"horizon": H}}, overrides))
        series = read_series(cfg.data)
        t0 = time.perf_counter()
        res = bt.backtest(cfg, args.out / name, args.origins, m, series=series,
                          models=tuple(x for x in MODELS if x not in ("autoets", "autoarima")))
        if not args.no_statsforecast:
            extra = baselines.statsforecast_models(sf_season)
            for model_name, fn in extra.items():  # fitted with the statsforecast season, scored with MASE season m
                t1 = time.perf_counter()
                per = []
                for k in range(args.origins):
                    cut = len(series) - (args.origins - k) * H
                    per.append(bt.metrics.scores(series.values[cut:cut + H], fn(series.values[:cut], H), series.values[:cut], m))
                res.scores[model_name] = bt.metrics.mean_scores(per)
                res.seconds[model_name] = time.perf_counter() - t1
        rows.append((name, H, res, time.perf_counter() - t0))
        print(f"\n## {name} (horizon {H}, MASE season {m}; rnnkit coverage 80%: {res.coverage80:.2f}, "
              f"95%: {res.coverage95:.2f})\n\n{bt.markdown(res)}", flush=True)
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
    print(f"\ntotal: {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
