"""A time series read from a CSV file: its dates, its target values and its covariates.

:func:`read_series` reads one CSV file (comma-, semicolon- or tab-separated, with or without a
header row, any line endings, quoted fields) into a :class:`Series`:

- ``dates`` ``(T,)``: ``datetime64[D]``, or ``datetime64[s]`` when the data has times of day;
  sorted ascending and unique;
- ``values`` ``(T,)`` float64: the target column;
- ``covariates`` ``(T, C)`` float64: the extra input columns (``C`` may be 0);
- ``frequency``: a :class:`Frequency` inferred from the dates (:func:`infer_frequency`);
- ``report``: one human-readable line per thing worth knowing (rows read, columns used, sorted,
  gaps, fills).

How the file is understood:

- **Header**: the first row is a header when none of its cells is a number, a date or a missing
  value marker; otherwise columns are named ``column 1``, ``column 2``, ...
- **Date column**: ``--date-column`` (a header name or a 1-based number), or else the first
  column whose cells all parse as dates (a column of bare years ``YYYY`` is only taken when no
  column has fuller dates). Understood: :data:`DATE_FORMATS`. A time zone suffix (``Z``,
  ``+01:00``) is converted to UTC; fractions of a second are dropped.
- **Day or month first**: ``DD/MM/YYYY`` and ``MM/DD/YYYY`` (also with ``-``) are told apart by
  the rows: the reading under which every row is a valid date wins. When both readings are valid
  for every row (no day above 12), the reading that keeps the file's rows in order wins, then the
  one that gives evenly spaced dates, then day first (the international convention); the report
  says so. ``DD.MM.YYYY`` is always day first.
- **Target**: ``--column`` (name or number), or else the last column, other than the date and the
  covariates, whose cells are mostly numbers.
- **Missing values**: empty cells, ``NA``, ``N/A``, ``#N/A``, ``nan``, ``null``, ``None`` and
  ``?`` (any case). Without ``--fill`` they are an error that says where they are; with
  ``--fill interpolate`` (linear in time) or ``--fill ffill`` (the last value carried forward)
  they are filled, and values before the first known one take that first value. Infinite values
  (``inf``) are always an error.
- **Gaps** (dates missing against the inferred frequency): reported; with ``--fill`` the missing
  dates are also inserted as rows and filled like missing values, so the series is evenly spaced.
  For business-daily data the gaps are the weekdays without a row (mostly market holidays); with
  ``--fill`` they are inserted too, which puts the series on the same Monday-to-Friday calendar
  that :meth:`Frequency.next_dates` forecasts on.
- **Duplicate dates** are an error (aggregate or remove the extra rows): which of two values for
  one day is right is the user's call, not ours.
- ``--start`` / ``--end`` keep the rows on or after / on or before a date; they are applied before
  the values are checked, so they can also cut away a damaged stretch of the file. An end given
  as a day, month or year includes all of it (``--end 2000`` keeps 2000-12-31).

Every problem with the file is an :class:`~rnnkit.core.errors.RnnkitError` with a one-line message
that names the problem (with the line number as in the file, the column and the value) and the fix.

pandas does the reading: ``read_csv`` splits the fields (one row per line, blank lines kept, so
row ``i`` is line ``i + 1``), ``to_datetime`` reads the dates and ``to_numeric`` finds the numbers.
What is ours is what pandas does not do: a message naming the line of each bad cell, day or month
first decided by all the rows (pandas decides by the first), and frequencies that tolerate gaps
(``pandas.infer_freq`` gives up at the first missing date, and knows no market holidays).

:func:`calendar_features` turns dates into sine-cosine pairs (month of year, day of week, day of
year, time of day) for the model's inputs.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.config import check_choices, check_encoding, flag_name, option, require
from ..core.errors import RnnkitError
from ..core.fileio import read_text

if TYPE_CHECKING:
    import pandas as pd  # imported where a file is read: it takes a second, and most of rnnkit never needs it

FILLS = ("none", "interpolate", "ffill")
MISSING = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none", "?"})  # compared lowercased
MISSING_WORDS = "empty, NA, nan, null or ?"
DATE_FORMATS = (
    "YYYY-MM-DD, YYYY/MM/DD, YYYY-MM-DD HH:MM[:SS] (or with T as in ISO 8601), "
    "YYYY-MM, YYYY, DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY"
)
SHOW = 3  # how many examples (lines, dates) a message or report line gives

_DAY = 86400  # seconds


# -- configuration -----------------------------------------------------------------------------
@dataclass
class SeriesConfig:
    data: str = option("", "CSV file of the series: a date column and numeric columns")
    column: str = option("", "the column to forecast: its header name or 1-based number (default: the last numeric column)")
    date_column: str = option("", "the date column: header name or 1-based number (default: found by parsing)")
    covariates: str = option("", "comma-separated columns used as extra inputs (names or numbers)")
    fill: str = option("none", "missing values and dates: none (an error), interpolate (linear in time) or ffill", FILLS)
    start: str = option("", "use only rows on or after this date (e.g. 2000-01-01)")
    end: str = option("", "use only rows on or before this date")
    encoding: str = option("utf-8", "text encoding of the CSV")

    def __post_init__(self) -> None:
        check_choices(self)
        check_encoding(self.encoding)
        start = _bound(self.start, "start") if self.start.strip() else None
        end = _bound(self.end, "end") if self.end.strip() else None
        if start is not None and end is not None:
            require(end[1] > start[0], "end", f"{self.end.strip()} is before --start {self.start.strip()}; "
                                              "pass an end on or after the start")


# -- the series --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frequency:
    """How far apart the dates of a series are, and how to continue them.

    ``name``: ``daily``, ``business-daily``, ``weekly``, ``monthly``, ``quarterly``, ``yearly``,
    ``hourly``, ``minutely``, ``every N days`` / ``every N months`` / ``every N hours`` /
    ``every N minutes`` / ``every N seconds``, or ``irregular``.

    ``step``: a NumPy timedelta. Whole days (``'D'``) or seconds (``'s'``) for fixed spacings
    (business-daily: one day, Saturdays and Sundays skipped); whole months (``'M'``) for
    monthly (1), quarterly (3) and yearly (12) data, since months differ in length; for
    ``irregular`` the median spacing, used only to continue the dates.

    ``season``: the natural seasonal period in steps: monthly 12, quarterly 4, weekly 52,
    daily 7, business-daily 5, hourly 24 (a day; also for steps of 5 minutes or more that
    divide a day), minutely 60, yearly and irregular 1.

    ``day``: for month-based steps, the day of the month the dates keep: 1 (the first), -1 (the
    last) or that day (clipped to shorter months); 0 otherwise.
    """

    name: str
    step: np.timedelta64
    season: int
    day: int = 0

    @property
    def months(self) -> int:
        """The step in calendar months for month-based frequencies, else 0."""
        unit, count = np.datetime_data(self.step.dtype)
        return int(self.step.astype(np.int64)) * count if unit == "M" else 0

    @property
    def business(self) -> bool:
        return self.name == "business-daily"

    def step_days(self) -> float:
        """The step's length in days (a month counts 30.44 days)."""
        if self.months:
            return self.months * 30.436875
        return float(self.step / np.timedelta64(1, "s")) / _DAY

    def next_dates(self, last, n: int) -> np.ndarray:
        """The ``n`` dates after ``last``, shape ``(n,)``, in ``last``'s unit (days or seconds).

        Business-daily skips Saturdays and Sundays (not holidays: no calendar is assumed);
        month-based steps keep :attr:`day` and ``last``'s time of day.
        """
        last = np.datetime64(last)
        if np.datetime_data(last.dtype)[0] in ("Y", "M", "W"):
            last = last.astype("datetime64[D]")
        k = np.arange(1, int(n) + 1)
        if not (self.months or self.business):
            return last + k * self.step
        day = last.astype("datetime64[D]")
        time_of_day = last - day  # zero for datetime64[D]
        if self.business:
            out = np.busday_offset(day, k, roll="backward")
        else:
            month = day.astype("datetime64[M]") + k * self.months
            first = month.astype("datetime64[D]")
            length = ((month + 1).astype("datetime64[D]") - first).astype(np.int64)
            d = length if self.day == -1 else np.minimum(max(self.day, 1), length)
            out = first + (d - 1)
        return out + time_of_day if last.dtype != np.dtype("datetime64[D]") else out


@dataclass
class Series:
    """A series read by :func:`read_series`; see the module docstring for the shapes."""

    dates: np.ndarray  # (T,) datetime64[D] or [s], sorted ascending, unique
    values: np.ndarray  # (T,) float64, the target
    covariates: np.ndarray  # (T, C) float64
    covariate_names: list[str]
    name: str  # the target column's header, or "column N"
    frequency: Frequency
    report: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


# -- dates -------------------------------------------------------------------------------------
# A cell's shape picks how it is read (which field is the year, day or month first); pandas'
# ISO 8601 reader then reads it, times of day and time zones included, and rejects invalid dates.
_TIME = r"(?:(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
_SHAPES = {
    "ymd": re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}" + _TIME),
    "ym": re.compile(r"\d{4}([-/])\d{1,2}"),
    "dmy": re.compile(r"\d{1,2}([-/.])\d{1,2}\1\d{4}" + _TIME),
    "y": re.compile(r"[12]\d{3}()"),  # a bare year from 1000 to 2999, or it is more likely a number
}
_ZONE = re.compile(r":\d{2}(?:[.,]\d+)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")
_DMY_FIELDS = r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(.*)"


def _family(text: str, years: bool = True) -> tuple[str, str] | None:
    """The shape of one cell as (family, separator): ``ymd``, ``ym``, ``dmy`` (or month first), ``y``."""
    for name, shape in _SHAPES.items():
        m = shape.fullmatch(text)
        if m and (years or name != "y"):
            return name, m[1]
    return None


def _read(cells: pd.Series, family: str) -> np.ndarray:
    """``cells`` read as dates of ``family`` (or ``mdy``): ``(N,)`` datetime64[s], NaT where one is not."""
    import pandas as pd

    text = cells.where(cells.str.fullmatch(_SHAPES["dmy" if family == "mdy" else family]))
    if text.isna().all():
        return np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[s]")
    if family in ("dmy", "mdy"):  # reorder to YYYY-MM-DD
        a, b, year, rest = (text.str.extract(_DMY_FIELDS)[k] for k in range(4))
        day, month = (a, b) if family == "dmy" else (b, a)
        text = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + rest
    # An explicit format: pandas guesses nothing, so it warns of nothing. Dates with a time zone are
    # read apart: pandas 2.3 gives a date without one the zone of the date before it.
    zoned = text.str.contains(_ZONE, na=False)
    dates = pd.to_datetime(text.where(~zoned), format="ISO8601", errors="coerce")
    if zoned.any():
        dates[zoned] = pd.to_datetime(text[zoned], format="ISO8601", utc=True, errors="coerce").dt.tz_convert(None)
    out = dates.to_numpy().astype("datetime64[s]")  # in UTC where a zone is given; fractions of a second dropped
    for i in np.nonzero(np.isnat(out) & text.notna().to_numpy())[0]:
        out[i] = _timestamp(text.iat[i])  # one by one: outside 1678 to 2261, or several spaces before the time
    return out


def _timestamp(text: str) -> np.datetime64:
    """One date that pandas' vector reader rejects (it counts nanoseconds), or NaT if it is invalid."""
    import pandas as pd

    try:
        with warnings.catch_warnings():  # its fallback reader (dateutil) may warn; the shape was checked
            warnings.simplefilter("ignore")
            t = pd.Timestamp(" ".join(text.split()))
    except ValueError:
        return np.datetime64("NaT")
    return (t.tz_convert(None) if t.tzinfo else t).to_datetime64().astype("datetime64[s]")


def _format_name(family: str, sep: str, timed: bool) -> str:
    base = {"ymd": f"YYYY{sep}MM{sep}DD", "ym": f"YYYY{sep}MM", "y": "YYYY",
            "dmy": f"DD{sep}MM{sep}YYYY", "mdy": f"MM{sep}DD{sep}YYYY"}[family]
    return base + (" HH:MM[:SS]" if timed else "")


@dataclass
class _Dates:
    """A parsed date column: ``dates`` (N,) datetime64[s] in file order, or the first bad cell."""

    dates: np.ndarray | None
    format: str = ""
    note: str = ""
    bad: int = -1  # index of the first cell that is not a date (when dates is None)
    parsed: int = 0  # when dates is None: how many cells are dates on their own


def _parse_dates(cells: pd.Series, years: bool = True) -> _Dates:
    """Parse non-empty ``cells`` ``(N,)`` as dates of the first cell's shape (a time of day may come and go)."""
    first = _family(cells.iat[0], years)
    if first is None:
        return _Dates(None, bad=0, parsed=_count_dates(cells, years))
    family, sep = first
    readings = {f: _read(cells, f) for f in (("dmy", "mdy") if family == "dmy" and sep != "." else (family,))}
    valid = {f: d for f, d in readings.items() if not np.isnat(d).any()}
    if not valid:  # the row that breaks the last reading
        bad = max(int(np.argmax(np.isnat(d))) for d in readings.values())
        return _Dates(None, bad=bad, parsed=_count_dates(cells, years))
    timed = family in ("ymd", "dmy") and bool(cells.str.contains(":", regex=False).any())
    if len(valid) == 1 or np.array_equal(valid["dmy"], valid["mdy"]):
        family = next(iter(valid))
        return _Dates(valid[family], _format_name(family, sep, timed))
    return _day_or_month_first(valid, cells.iat[0], sep, timed)


def _count_dates(cells: pd.Series, years: bool) -> int:
    """How many of ``cells`` are dates on their own (to tell a date column with a typo)."""
    ok = np.zeros(len(cells), bool)
    for family in ("ymd", "ym", "dmy", "mdy") + (("y",) if years else ()):
        ok |= ~np.isnat(_read(cells, family))
    return int(ok.sum())


def _day_or_month_first(valid: dict[str, np.ndarray], first: str, sep: str, timed: bool) -> _Dates:
    """Both readings of a DD/MM/YYYY-or-MM/DD/YYYY column are valid and differ: pick one, say why."""

    def ordered(d: np.ndarray) -> bool:
        step = np.diff(d.astype(np.int64))
        return bool(np.all(step >= 0) or np.all(step <= 0))

    def regular(d: np.ndarray) -> bool:
        u = np.unique(d)
        return len(u) >= 2 and infer_frequency(u).name != "irregular"

    why = "day first is the international convention"
    family = "dmy"
    for test, reason in ((ordered, "it keeps the rows in date order"), (regular, "it gives evenly spaced dates")):
        ok = {k: test(v) for k, v in valid.items()}
        if ok["dmy"] != ok["mdy"]:
            family, why = ("dmy" if ok["dmy"] else "mdy"), reason
            break
    other = "mdy" if family == "dmy" else "dmy"
    name, other_name = _format_name(family, sep, timed), _format_name(other, sep, timed)
    note = (f"dates such as {first!r} could be {name} or {other_name} (no day is above 12); "
            f"read as {name} because {why}; if that is wrong, rewrite the dates as YYYY-MM-DD")
    return _Dates(valid[family], name, note)


def _bound(text: str, name: str) -> tuple[np.datetime64, np.datetime64]:
    """``--start``/``--end`` as ``[from, to)`` in seconds: a day, month or year covers all of it."""
    import pandas as pd

    text = text.strip()
    found = _family(text)
    fix = "write it as YYYY-MM-DD (e.g. 2000-01-01)"
    if found is None:
        raise RnnkitError(f"{flag_name(name)}: {text!r} is not a date; {fix}")
    family, sep = found
    readings = ("dmy", "mdy") if family == "dmy" and sep != "." else (family,)
    values = {v for v in (_read(pd.Series([text]), f)[0] for f in readings) if not np.isnat(v)}
    if len(values) > 1:
        raise RnnkitError(f"{flag_name(name)}: {text!r} is ambiguous (day or month first?); {fix}")
    if not values:
        raise RnnkitError(f"{flag_name(name)}: {text!r} is not a valid date; {fix}")
    lo = values.pop()
    if ":" in text:
        return lo, lo + np.timedelta64(1, "s")
    if family == "ym":
        return lo, (lo.astype("datetime64[M]") + 1).astype("datetime64[s]")
    if family == "y":
        return lo, (lo.astype("datetime64[Y]") + 1).astype("datetime64[s]")
    return lo, lo + np.timedelta64(_DAY, "s")


# -- frequency ---------------------------------------------------------------------------------
def _regular(diffs: np.ndarray, step: int) -> bool:
    """At least 90% of the spacings are whole multiples of ``step`` (gaps are multiples)."""
    return step > 0 and float(np.mean(diffs % step == 0)) >= 0.9


def _subday(step: int) -> tuple[str, int]:
    if step % 3600 == 0:
        n = step // 3600
        name = "hourly" if n == 1 else f"every {n} hours"
    elif step % 60 == 0:
        n = step // 60
        name = "minutely" if n == 1 else f"every {n} minutes"
    else:
        name = "every second" if step == 1 else f"every {step} seconds"
    if step >= 300 and _DAY % step == 0:
        season = _DAY // step  # a day
    elif 3600 % step == 0 and step >= 60:
        season = 3600 // step  # an hour
    elif 60 % step == 0:
        season = 60 // step  # a minute
    else:
        season = 1
    return name, season


def _anchor_day(days: np.ndarray) -> int:
    month = days.astype("datetime64[M]")
    dom = (days - month.astype("datetime64[D]")).astype(np.int64) + 1
    last = ((month + 1).astype("datetime64[D]") - days).astype(np.int64) == 1
    if np.mean(dom == 1) >= 0.5:
        return 1
    if np.mean(last) >= 0.5:
        return -1
    values, counts = np.unique(dom, return_counts=True)
    return int(values[np.argmax(counts)])


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday 0 ... Sunday 6 of ``datetime64[D]`` dates (1970-01-01 was a Thursday)."""
    return (days.astype(np.int64) + 3) % 7


def infer_frequency(dates: np.ndarray) -> Frequency:
    """The frequency of ``dates`` ``(T,)`` (datetime64, any order; duplicates ignored).

    The step is the median spacing (the lower median: always a spacing that occurs). The dates
    are regular when at least 90% of the spacings are whole multiples of it (missing dates make
    multiples); otherwise the frequency is ``irregular``. Spacings of 27 days or more are
    counted in calendar months (monthly, quarterly, yearly, every N months). Daily data with
    (almost, at most 5%) no Saturdays or Sundays over more than a week is ``business-daily``.
    """
    d = np.asarray(dates)
    if not np.issubdtype(d.dtype, np.datetime64):
        raise TypeError(f"dates must be a datetime64 array, got {d.dtype}")
    d = np.unique(d)
    if len(d) < 2:
        raise RnnkitError("a series needs at least two different dates to tell its frequency")
    seconds = d.astype("datetime64[s]").astype(np.int64)
    diffs = np.diff(seconds)
    med = int(np.sort(diffs)[(len(diffs) - 1) // 2])
    irregular = Frequency("irregular", np.timedelta64(med // _DAY, "D") if med % _DAY == 0
                          else np.timedelta64(med, "s"), 1)
    if med < _DAY:
        if not _regular(diffs, med):
            return irregular
        name, season = _subday(med)
        return Frequency(name, np.timedelta64(med, "s"), season)
    days = d.astype("datetime64[D]")
    if med >= 27 * _DAY:
        months = np.diff(days.astype("datetime64[M]").astype(np.int64))
        k = int(np.sort(months)[(len(months) - 1) // 2])
        if k >= 1 and float(np.mean((months % k == 0) & (months > 0))) >= 0.9:
            name, season = {1: ("monthly", 12), 3: ("quarterly", 4), 12: ("yearly", 1)}.get(
                k, (f"every {k} months", 12 // k if 12 % k == 0 else 1))
            return Frequency(name, np.timedelta64(k, "M"), season, _anchor_day(days))
    if med % _DAY or not _regular(diffs, med):
        return irregular
    n = med // _DAY
    if n == 1:
        weekend = float(np.mean(_weekday(days) >= 5))
        if weekend <= 0.05 and (days[-1] - days[0]).astype(np.int64) >= 7:
            return Frequency("business-daily", np.timedelta64(1, "D"), 5)
        return Frequency("daily", np.timedelta64(1, "D"), 7)
    if n == 7:
        return Frequency("weekly", np.timedelta64(7, "D"), 52)
    return Frequency(f"every {n} days", np.timedelta64(n, "D"), 1)


def missing_dates(dates: np.ndarray, frequency: Frequency) -> np.ndarray:
    """The dates missing between the sorted unique ``dates`` ``(T,)`` at ``frequency``: ``(G,)``.

    Each gap is continued from the date before it with :meth:`Frequency.next_dates`; for
    business-daily data the gaps are the weekdays without a row. ``irregular`` has no gaps.
    """
    d = np.asarray(dates)
    empty = d[:0]
    if frequency.name == "irregular" or len(d) < 2:
        return empty
    if frequency.months:
        steps = np.diff(d.astype("datetime64[M]").astype(np.int64))
        count = np.rint(steps / frequency.months).astype(np.int64) - 1
    elif frequency.business:
        days = d.astype("datetime64[D]")
        count = np.busday_count(days[:-1] + 1, days[1:])
    else:
        count = np.rint(np.diff(d) / frequency.step).astype(np.int64) - 1
    where = np.nonzero(count > 0)[0]
    if not len(where):
        return empty
    out = np.concatenate([frequency.next_dates(d[i], count[i]) for i in where]).astype(d.dtype)
    keep = np.ones(len(out), bool)
    keep[np.isin(out, d)] = False  # a gap continued from an off-grid date can land on a row
    return np.unique(out[keep])


def calendar_features(dates: np.ndarray, frequency: Frequency) -> tuple[np.ndarray, list[str]]:
    """Sine-cosine pairs of the calendar positions of ``dates`` ``(T,)``: ``(T, F)`` float64, names.

    - ``month_sin``, ``month_cos``: month of year (January at angle 0), when the step is
      shorter than a year (monthly, quarterly, weekly, daily, ...);
    - ``day_of_week_sin``, ``day_of_week_cos``: Monday at angle 0, period 7, for steps of a day
      or less (daily, business-daily, hourly, ...);
    - ``day_of_year_sin``, ``day_of_year_cos``: January 1 at angle 0, period the year's length
      (365 or 366), for steps of a day or less;
    - ``time_of_day_sin``, ``time_of_day_cos``: midnight at angle 0, for steps under a day.

    Yearly (and coarser) data has no calendar features: shape ``(T, 0)``.
    """
    d = np.asarray(dates)
    days = d.astype("datetime64[D]")
    step = frequency.step_days()
    columns: list[tuple[str, np.ndarray]] = []
    if step < 360:
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        columns.append(("month", month / 12.0))
    if step <= 1:
        columns.append(("day_of_week", _weekday(days) / 7.0))
        year = days.astype("datetime64[Y]")
        start = year.astype("datetime64[D]")
        length = ((year + 1).astype("datetime64[D]") - start).astype(np.int64)
        columns.append(("day_of_year", (days - start).astype(np.int64) / length))
    if step < 1:
        seconds = (d.astype("datetime64[s]") - days.astype("datetime64[s]")).astype(np.int64)
        columns.append(("time_of_day", seconds / _DAY))
    names, feats = [], []
    for name, fraction in columns:
        angle = 2 * np.pi * fraction
        feats += [np.sin(angle), np.cos(angle)]
        names += [f"{name}_sin", f"{name}_cos"]
    if not feats:
        return np.zeros((len(d), 0)), []
    return np.stack(feats, axis=1).astype(np.float64), names


# -- reading the file --------------------------------------------------------------------------
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_CLOCK = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")


def _data_path(cfg: SeriesConfig) -> Path:
    require(cfg.data != "", "data", "no data file given; pass --data FILE, a CSV file with a date column")
    path = Path(cfg.data).expanduser()
    if path.is_dir():
        raise RnnkitError(f"{path} is a directory; pass a CSV file with a date column and numeric columns")
    if not path.is_file():
        raise RnnkitError(f"data file {path} not found; pass an existing CSV file with a date column")
    return path


@dataclass
class _Table:
    names: list[str]  # one per column: the header, or "column N"
    header: bool
    cells: pd.DataFrame  # (N, columns) str, stripped; the data rows, columns numbered from 0
    lines: np.ndarray  # (N,) the line of each row, as in the file
    delimiter: str
    blank: int  # blank lines skipped


def _sniff_delimiter(text: str) -> str:
    line = next(l for l in text.splitlines() if l.strip())
    counts = {c: line.count(c) for c in (",", ";", "\t")}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] > counts[","] else ","


def _to_float(cells: pd.Series, delimiter: str) -> np.ndarray:
    """``cells`` as float64 ``(N,)``: NaN where one is not a number (``inf`` is one)."""
    import pandas as pd

    if delimiter != ",":  # 1,5 is a decimal comma when the comma separates nothing
        cells = cells.where(~cells.str.fullmatch(_DECIMAL_COMMA), cells.str.replace(",", ".", regex=False))
    out = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64, copy=True)  # pandas 3 gives a read-only view
    ok = ~np.isnan(out)
    out[ok] = cells[ok].to_numpy().astype(np.float64)  # Python's float, exact to the last bit (pandas' is not)
    return out


def _is_label(cell: str, delimiter: str) -> bool:
    """A header-like cell: not empty, not a number, a missing value marker or a date."""
    import pandas as pd

    return (bool(cell) and cell.lower() not in MISSING and _family(cell) is None
            and np.isnan(_to_float(pd.Series([cell]), delimiter)[0]))


def _most_fields(text: str, delimiter: str) -> np.ndarray:
    """``(lines,)`` 1 + the delimiters on each line: the most fields a row on it can have (quotes hide some)."""
    b = np.frombuffer(text.encode(), np.uint8)  # no byte of a multi-byte character is ASCII
    ends = (b == ord("\n")) | ((b == ord("\r")) & (np.append(b[1:], 0) != ord("\n")))  # \n, \r\n or \r
    line = np.cumsum(ends)
    return 1 + np.bincount(line[b == ord(delimiter)], minlength=int(line[-1]) + 1)


def _split(text: str, delimiter: str, most: int, path: Path) -> np.ndarray:
    """The fields of every line, stripped: ``(lines, most)`` str, ``""`` for a blank line or a short row's end."""
    import pandas as pd

    try:  # as many columns as the longest line allows: pandas pads short rows, and long ones are ours to report
        cells = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=range(most), dtype=str,
                            na_filter=False, skip_blank_lines=False)  # row i is line i + 1
    except pd.errors.ParserError as e:
        row = re.search(r"EOF inside string starting at row (\d+)", str(e))
        where = f" line {int(row[1]) + 1}: a quote opened on this line is not closed" if row else \
            f" is not valid CSV ({str(e).strip()})"
        raise RnnkitError(f"{path}{where}; fix the quotes on that line")
    cells = cells.to_numpy(dtype=str)  # numpy's string functions run in C, pandas' (on objects) in Python
    multiline = np.any((np.char.find(cells, "\n") >= 0) | (np.char.find(cells, "\r") >= 0), axis=1)
    if multiline.any():  # the rows below it would no longer be on the line of their number
        raise RnnkitError(f"{path} line {np.argmax(multiline) + 1}: a quote opened on this line is not closed (the "
                          f"field runs over several lines); fix the quotes on that line")
    return np.char.strip(cells)


def _read_table(path: Path, encoding: str) -> _Table:
    import pandas as pd

    text = read_text(path, encoding, "a CSV file with a date column and numeric columns")
    delimiter = _sniff_delimiter(text)
    most = _most_fields(text, delimiter)
    cells = _split(text, delimiter, int(most.max()), path)
    filled = cells != ""
    rows = np.nonzero(filled.any(axis=1))[0]
    if not len(rows):
        raise RnnkitError(f"{path} has only empty fields; pass a CSV file with a date column and numeric columns")
    width = int(np.nonzero(filled[rows[0]])[0][-1]) + 1  # the first row's, without trailing empty fields
    first = cells[rows[0], :width].tolist()
    header = all(c == "" or _is_label(c, delimiter) for c in first)
    names = [c if (header and c) else f"column {i + 1}" for i, c in enumerate(first)]
    if header:
        rows = rows[1:]
        if not len(rows):
            raise RnnkitError(f"{path} has a header row but no data rows; add the data below the header")
    long = filled[rows, width:].any(axis=1)  # (a trailing empty field is no field)
    ragged = long | (most[rows] < width)  # too few delimiters on its line
    if ragged.any():
        i = int(np.argmax(ragged))
        n = int(np.nonzero(filled[rows[i]])[0][-1]) + 1 if long[i] else int(most[rows[i]])
        what = "the header has" if header else "the first row has"
        raise RnnkitError(f"{path} line {rows[i] + 1} has {n} field{'s' * (n > 1)} but {what} {width}; "
                          f"fix that line (fields are separated by {delimiter!r}) or remove it")
    blank = len(cells) - len(rows) - header
    return _Table(names, header, pd.DataFrame(cells[rows, :width], dtype=object), rows + 1, delimiter, blank)


def _column(ref: str, table: _Table, name: str) -> int:
    """The 0-based index of the column ``ref`` (a header name or a 1-based number) for ``--name``."""
    ref = ref.strip()
    names = table.names
    for same in (lambda n: n == ref, lambda n: n.casefold() == ref.casefold()):
        hits = [i for i, n in enumerate(names) if same(n)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise RnnkitError(f"{flag_name(name)} {ref!r}: {len(hits)} columns have that name "
                              f"(columns {', '.join(str(i + 1) for i in hits)}); pass the column's number instead")
    if ref.isdigit():
        k = int(ref)
        if 1 <= k <= len(names):
            return k - 1
        raise RnnkitError(f"{flag_name(name)} {k} is out of range: the file has {len(names)} "
                          f"column{'s' * (len(names) > 1)}; pass 1 to {len(names)} or a name: {_listing(names)}")
    raise RnnkitError(f"{flag_name(name)}: no column {ref!r}; the columns are {_listing(names)}")


def _listing(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _date_column(cfg: SeriesConfig, table: _Table, path: Path) -> tuple[int, _Dates]:
    """The date column and its dates (N,) datetime64[s] in file order."""
    if cfg.date_column.strip():
        candidates = [_column(cfg.date_column, table, "date_column")]
    else:
        candidates = list(range(len(table.names)))
    results: dict[int, _Dates] = {}
    for years in ((True,) if cfg.date_column.strip() else (False, True)):
        for j in candidates:
            cells = table.cells[j]
            filled = np.nonzero((cells != "").to_numpy())[0]
            if not len(filled):
                continue
            parsed = _parse_dates(cells.iloc[filled].reset_index(drop=True), years)
            if parsed.dates is None:
                parsed.bad = filled[parsed.bad]
                if j not in results or parsed.parsed > results[j].parsed:
                    results[j] = parsed
                continue
            if len(filled) < len(cells):
                i = int(np.argmax((cells == "").to_numpy()))
                raise RnnkitError(f"{path} line {table.lines[i]} has no date (column {table.names[j]!r} is empty); "
                                  f"fill in the date or remove the row")
            return j, parsed
    # No column parses: point at the column that came closest, if it mostly parses.
    best = max(results, key=lambda j: results[j].parsed, default=None)
    if best is not None and (cfg.date_column.strip() or results[best].parsed >= len(table.cells) / 2):
        bad = results[best].bad
        raise RnnkitError(
            f"{path} line {table.lines[bad]}, date column {table.names[best]!r}: {table.cells.iat[bad, best]!r} is not "
            f"a date (or not in the format of the rows above it); understood formats: {DATE_FORMATS}; fix that date")
    where = "" if table.header else " (the file has no header row)"
    raise RnnkitError(f"{path}: no date column found{where}: no column's values all parse as dates; understood "
                      f"formats: {DATE_FORMATS}; fix the dates or pass --date-column")


def _numbers(cells: pd.Series, lines: np.ndarray, name: str, path: Path, delimiter: str) -> np.ndarray:
    """The cells of one column as float64 ``(N,)``, NaN where a value is missing."""
    out = _to_float(cells, delimiter)
    missing = np.isnan(out)
    missing[missing] = cells[missing].str.lower().isin(MISSING)
    wrong = ~missing & ~np.isfinite(out)
    if wrong.any():
        i = int(np.argmax(wrong))
        c = cells.iat[i]
        if np.isinf(out[i]):
            raise RnnkitError(f"{path} line {lines[i]}, column {name!r}: {c!r} is infinite; replace it with a "
                              f"number, or leave the cell empty and pass --fill interpolate or --fill ffill")
        hint = " (thousands separators are not understood: write 1234.5)" if re.fullmatch(r"[+-]?[\d,.]+", c) else ""
        raise RnnkitError(f"{path} line {lines[i]}, column {name!r}: {c!r} is not a number{hint}; fix or remove "
                          f"that row (a missing value may be left {MISSING_WORDS})")
    return out


def _default_target(table: _Table, taken: set[int], path: Path) -> int:
    for j in reversed(range(len(table.names))):
        if j in taken:
            continue
        cells = table.cells[j]
        present = cells[~cells.str.lower().isin(MISSING)]
        if len(present) and np.sum(~np.isnan(_to_float(present, table.delimiter))) >= len(present) / 2:
            return j
    others = [j for j in range(len(table.names)) if j not in taken]
    if len(others) == 1:
        return others[0]  # the only candidate: reading it names its first cell that is not a number
    if not others:
        raise RnnkitError(f"{path} has no column besides the date{' and the covariates' * (len(taken) > 1)}; "
                          f"add a numeric column to forecast")
    raise RnnkitError(f"{path}: no numeric column to forecast among {_listing([table.names[j] for j in others])}; "
                      f"pass --column with the column to forecast")


def _time_hint(table: _Table, date_j: int) -> str:
    """For duplicate dates: point at a separate column of times of day, if there is one."""
    for j, name in enumerate(table.names):
        if j != date_j and table.cells[j].str.fullmatch(_CLOCK).all():
            return (f" (the times of day seem to be in column {name!r}: join them to the dates in one column, "
                    f"as YYYY-MM-DD HH:MM)")
    return ""


def _fill(x: np.ndarray, y: np.ndarray, how: str) -> np.ndarray:
    """Fill the NaNs of ``y`` ``(T,)`` at times ``x`` ``(T,)``; leading NaNs take the first value."""
    import pandas as pd

    y = pd.Series(y, index=x)
    y = y.interpolate("index") if how == "interpolate" else y.ffill()  # the last NaNs take the last value
    return y.bfill().to_numpy()


def _show(dates: np.ndarray) -> str:
    return ", ".join(str(d) for d in dates[:SHOW]) + (", ..." if len(dates) > SHOW else "")


def read_series(cfg: SeriesConfig) -> Series:
    """Read, check, sort and (with ``cfg.fill``) fill the series of ``cfg.data``; see the module docstring."""
    cfg.__post_init__()  # again: fields may have been set after the config was made
    path = _data_path(cfg)
    table = _read_table(path, cfg.encoding)
    report = [f"read {len(table.cells)} rows from {path}"
              + (f" (header: {', '.join(table.names)})" if table.header else " (no header row)")]
    if table.delimiter != ",":
        report.append(f"fields are separated by {table.delimiter!r}")
    if table.blank:
        report.append(f"skipped {table.blank} blank line{'s' * (table.blank > 1)}")

    # Dates, in file order.
    date_j, parsed = _date_column(cfg, table, path)
    dates = parsed.dates
    report.append(f"dates: column {table.names[date_j]!r}, format {parsed.format}")
    if parsed.note:
        report.append(parsed.note)

    # Columns: covariates, then the target.
    taken = {date_j}
    cov_j: list[int] = []
    for ref in (r.strip() for r in cfg.covariates.split(",")):
        if not ref:
            continue
        j = _column(ref, table, "covariates")
        require(j != date_j, "covariates", f"{ref!r} is the date column; pass numeric columns as covariates")
        require(j not in cov_j, "covariates", f"{table.names[j]!r} is listed twice; list each column once")
        cov_j.append(j)
    if cfg.column.strip():
        target_j = _column(cfg.column, table, "column")
        others = [n for j, n in enumerate(table.names) if j != date_j]
        require(target_j != date_j, "column",
                f"{cfg.column.strip()!r} is the date column; pass the column to forecast: {_listing(others)}")
        require(target_j not in cov_j, "column",
                f"{table.names[target_j]!r} is also in --covariates; the target is an input already, remove it there")
    else:
        target_j = _default_target(table, taken | set(cov_j), path)
    name = table.names[target_j]
    report.append(f"target: column {name!r}" + (" (the last numeric column)" if not cfg.column.strip() else "")
                  + (f"; covariates: {', '.join(table.names[j] for j in cov_j)}" if cov_j else ""))

    # The --start/--end window.
    keep = np.ones(len(dates), bool)
    if cfg.start.strip():
        keep &= dates >= _bound(cfg.start, "start")[0]
    if cfg.end.strip():
        keep &= dates < _bound(cfg.end, "end")[1]
    rows = np.nonzero(keep)[0]
    if not keep.all():
        given = [n for n in ("start", "end") if getattr(cfg, n).strip()]
        flags = " ".join(f"{flag_name(n)} {getattr(cfg, n).strip()}" for n in given)
        if not len(rows):
            raise RnnkitError(f"{flags}: no rows left; the data runs from {_day(dates.min())} to {_day(dates.max())}")
        report.append(f"kept {len(rows)} of {len(dates)} rows ({flags})")
    dates, lines = dates[rows], table.lines[rows]

    # Sort; duplicates are an error.
    order = np.argsort(dates, kind="stable")
    if np.any(np.diff(order) != 1):
        backwards = bool(np.all(np.diff(dates.astype(np.int64)) < 0))
        report.append("the rows were in descending date order; reversed them" if backwards
                      else "the rows were not in date order; sorted them by date")
    dates, lines, rows = dates[order], lines[order], rows[order]
    same = np.nonzero(dates[1:] == dates[:-1])[0]
    if len(same):
        first = dates[same[0]]
        at = lines[dates == first]
        repeated = len(np.unique(dates[same]))
        shown = ", ".join(map(str, sorted(at)[:SHOW])) + (", ..." if len(at) > SHOW else "")
        more = repeated - 1
        raise RnnkitError(
            f"{path}: duplicate dates: {_day(first)} appears {len(at)} times (lines {shown})"
            + (f", and {more} more date{'s' * (more > 1)} repeat{'s' * (more == 1)}" if more else "")
            + "; aggregate the rows of each date (e.g. their mean) or remove the extra rows"
            + _time_hint(table, date_j))
    if len(dates) < 2:
        raise RnnkitError(f"{path} has only one row{' in the --start/--end window' * (not keep.all())}; "
                          f"a series needs at least two dates")

    # Values in file order (so the first bad cell is the first in the file), then sorted.
    file_order = np.sort(rows)
    file_lines = table.lines[file_order]
    columns = []
    for j in [target_j, *cov_j]:
        cells = table.cells[j].iloc[file_order]
        columns.append(_numbers(cells, file_lines, table.names[j], path, table.delimiter))
    data = np.stack(columns, axis=1)[np.searchsorted(file_order, rows)]  # (T, 1 + C), sorted by date

    # Missing values.
    missing = np.isnan(data)
    if missing.any() and cfg.fill == "none":
        count = int(missing.sum())
        per = [(table.names[j], int(missing[:, k].sum()))
               for k, j in enumerate([target_j, *cov_j]) if missing[:, k].any()]
        at = np.nonzero(missing.any(axis=1))[0]
        at = at[np.argsort(lines[at])][:SHOW]
        where = ", ".join(f"line {lines[i]} ({_day(dates[i])})" for i in at)
        cols = (f"column {per[0][0]!r}" if len(per) == 1
                else "columns " + ", ".join(f"{n!r} ({c})" for n, c in per))
        raise RnnkitError(f"{path}: {count} missing value{'s' * (count > 1)} ({MISSING_WORDS}) in {cols}, first at "
                          f"{where}; pass --fill interpolate or --fill ffill to fill them, or fix the file")
    if np.all(missing[:, 0]):
        raise RnnkitError(f"{path}: column {name!r} has no values, only missing ones; "
                          f"pass --column with another column")
    for k, j in enumerate(cov_j, 1):
        if np.all(missing[:, k]):
            raise RnnkitError(f"{path}: covariate {table.names[j]!r} has no values, only missing ones; "
                              f"remove it from --covariates")

    # Frequency and gaps.
    if np.all(dates == dates.astype("datetime64[D]")):
        dates = dates.astype("datetime64[D]")
    frequency = infer_frequency(dates)
    report.append(f"frequency: {frequency.name} (season {frequency.season})")
    gaps = missing_dates(dates, frequency)
    what = "business day" if frequency.business else "date"
    what += "s" * (len(gaps) != 1) + (" (weekdays without a row, e.g. market holidays)" if frequency.business else "")
    if frequency.name == "irregular":
        report.append("the dates are irregularly spaced, so gaps are not checked")
    elif len(gaps) and cfg.fill == "none":
        report.append(f"{len(gaps)} missing {what} against the {frequency.name} frequency: {_show(gaps)}; "
                      f"--fill interpolate or --fill ffill would insert and fill them")
    elif len(gaps):
        report.append(f"inserted {len(gaps)} missing {what} against the {frequency.name} frequency: {_show(gaps)}")
        all_dates = np.concatenate([dates, gaps])
        order = np.argsort(all_dates, kind="stable")
        dates = all_dates[order]
        data = np.concatenate([data, np.full((len(gaps), data.shape[1]), np.nan)])[order]
    else:
        report.append(f"no gaps against the {frequency.name} frequency")
    if cfg.fill != "none":
        x = dates.astype("datetime64[s]").astype(np.int64)
        how = "by linear interpolation in time" if cfg.fill == "interpolate" else "with the last value before them"
        for k, col in enumerate([name, *(table.names[j] for j in cov_j)]):
            holes = np.isnan(data[:, k])
            count = int(holes.sum())
            if not count:
                continue
            lead = int(np.argmax(~holes))
            data[:, k] = _fill(x, data[:, k], cfg.fill)
            report.append(f"filled {count} missing value{'s' * (count > 1)} of {col!r} {how}"
                          + (f" (the first {lead} took the first value, {_day(dates[lead])})" if lead else ""))

    return Series(
        dates=dates,
        values=np.ascontiguousarray(data[:, 0]),
        covariates=np.ascontiguousarray(data[:, 1:]),
        covariate_names=[table.names[j] for j in cov_j],
        name=name,
        frequency=frequency,
        report=report,
    )


def _day(value: np.datetime64) -> str:
    """A date for messages: the day alone at midnight, else date and time."""
    value = np.datetime64(value)
    day = value.astype("datetime64[D]")
    return str(day) if value == day else str(value.astype("datetime64[s]")).replace("T", " ")
