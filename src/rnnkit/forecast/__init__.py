"""Forecasting: predict the next values of a numeric time series.

``from rnnkit import forecast`` gives the task's Python API (see ``api.py``): ``forecast.train(config,
out)``, ``forecast.load(run)``, ``forecast.forecast(run, horizon)``, ``forecast.evaluate(run, split)``,
``forecast.plot``. Each name is imported on first use, so importing the package loads no torch.
"""

from ..core.lazy import exports

_WHERE = {
    **dict.fromkeys(["Evaluation", "Forecast", "ForecastRun", "TrainResult", "evaluate", "forecast", "load", "plot",
                     "train"], ".api"),
    **dict.fromkeys(["KIND", "ForecastConfig", "ForecastUseConfig"], ".task"),
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
