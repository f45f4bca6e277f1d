"""Reading a time series from CSV: formats, frequency, gaps, fills, calendar features, bad input."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.forecast.series import (
    Frequency,
    Series,
    SeriesConfig,
    calendar_features,
    infer_frequency,
    missing_dates,
    read_series,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared(name: str) -> Path:
    p = SHARED_DATA / name
    if not p.exists():
        pytest.skip(f"{p} is absent (the shared data folder only exists beside the project checkout)")
    return p


def write(tmp_path: Path, text: str | bytes, name: str = "series.csv") -> str:
    p = tmp_path / name
    if isinstance(text, str):
        p.write_bytes(text.encode("utf-8"))
    else:
        p.write_bytes(text)
    return str(p)


def read(tmp_path: Path, text: str | bytes, **cfg) -> Series:
    return read_series(SeriesConfig(data=write(tmp_path, text), **cfg))


def error(tmp_path: Path, text: str | bytes, **cfg) -> str:
    with pytest.raises(RnnkitError) as e:
        read(tmp_path, text, **cfg)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def days(*values: str) -> np.ndarray:
    return np.array(values, dtype="datetime64[D]")


def reported(series: Series, fragment: str) -> bool:
    return any(fragment in line for line in series.report)


# -- reading -----------------------------------------------------------------------------------
DAILY = "date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-04,4\n"


def test_header_daily_basic(tmp_path):
    s = read(tmp_path, DAILY)
    assert s.dates.dtype == np.dtype("datetime64[D]")
    assert np.array_equal(s.dates, days("2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"))
    assert s.values.dtype == np.float64 and s.values.tolist() == [1, 2, 3, 4]
    assert s.covariates.shape == (4, 0) and s.covariate_names == []
    assert s.name == "value"
    assert s.frequency.name == "daily" and s.frequency.season == 7
    assert reported(s, "read 4 rows") and reported(s, "no gaps")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("final", [True, False])
def test_line_endings_and_no_final_newline(tmp_path, newline, final):
    text = DAILY.replace("\n", newline)
    if not final:
        text = text[: -len(newline)]
    s = read(tmp_path, text)
    assert s.values.tolist() == [1, 2, 3, 4]


def test_no_header(tmp_path):
    s = read(tmp_path, "2020-01-01,5,1.5\n2020-01-02,6,2.5\n2020-01-03,7,3.5\n")
    assert s.name == "column 3" and s.values.tolist() == [1.5, 2.5, 3.5]
    assert reported(s, "no header row")
    s = read(tmp_path, "2020-01-01,5,1.5\n2020-01-02,6,2.5\n", column="2", covariates="column 3")
    assert s.name == "column 2" and s.values.tolist() == [5, 6]
    assert s.covariate_names == ["column 3"] and s.covariates[:, 0].tolist() == [1.5, 2.5]


def test_quoted_fields_bom_and_blank_lines(tmp_path):
    text = '\ufeff"Date","Price, USD"\r\n"2020-01-01","1.5"\r\n\r\n"2020-01-02",2.5\r\n'
    s = read(tmp_path, text)
    assert s.name == "Price, USD" and s.values.tolist() == [1.5, 2.5]
    assert reported(s, "skipped 1 blank line")


def test_semicolon_delimiter_with_decimal_commas(tmp_path):
    s = read(tmp_path, "Datum;Wert\n01.02.2020;1,5\n02.02.2020;2,25\n")
    assert s.values.tolist() == [1.5, 2.25]
    assert np.array_equal(s.dates, days("2020-02-01", "2020-02-02"))  # DD.MM.YYYY: day first


def test_date_column_found_by_parsing_not_first(tmp_path):
    s = read(tmp_path, "id,when,value\nA,2020-01-01,1\nB,2020-01-02,2\n")
    assert s.name == "value" and s.dates[0] == np.datetime64("2020-01-01")
    assert reported(s, "column 'when'")


def test_date_column_named_and_numbered(tmp_path):
    text = "a,b,value\n2020-01-01,2021-06-01,1\n2020-01-02,2021-07-01,2\n"
    assert read(tmp_path, text).frequency.name == "daily"  # the first date column
    for ref in ("b", "B", "2"):
        s = read(tmp_path, text, date_column=ref)
        assert np.array_equal(s.dates, days("2021-06-01", "2021-07-01"))


def test_year_column_only_when_no_fuller_dates(tmp_path):
    # "code" holds 4-digit numbers that would read as years; the real dates win.
    s = read(tmp_path, "code,date,value\n1001,2020-01-01,1\n1002,2020-01-02,2\n")
    assert s.dates[0] == np.datetime64("2020-01-01") and s.name == "value"


@pytest.mark.parametrize(
    "cells, expected",
    [
        (("2020-03-01", "2020-03-02"), ("2020-03-01", "2020-03-02")),
        (("2020/03/01", "2020/03/02"), ("2020-03-01", "2020-03-02")),
        (("2020-03", "2020-04"), ("2020-03-01", "2020-04-01")),
        (("2019", "2020"), ("2019-01-01", "2020-01-01")),
        (("25/12/2020", "26/12/2020"), ("2020-12-25", "2020-12-26")),  # only day first is valid
        (("12/25/2020", "12/26/2020"), ("2020-12-25", "2020-12-26")),  # only month first is valid
        (("2020-03-01 00:00", "2020-03-02 00:00:00"), ("2020-03-01", "2020-03-02")),  # midnights: days
    ],
)
def test_date_formats(tmp_path, cells, expected):
    s = read(tmp_path, f"d,v\n{cells[0]},1\n{cells[1]},2\n")
    assert s.dates.dtype == np.dtype("datetime64[D]")
    assert np.array_equal(s.dates, days(*expected))


@pytest.mark.parametrize("fmt", ["2020-03-01 {h:02d}:00", "2020-03-01T{h:02d}:00:00", "2020-03-01T{h:02d}:00:00Z"])
def test_times_of_day(tmp_path, fmt):
    text = "t,v\n" + "".join(f"{fmt.format(h=h)},{h}\n" for h in range(5))
    s = read(tmp_path, text)
    assert s.dates.dtype == np.dtype("datetime64[s]")
    assert s.dates[2] == np.datetime64("2020-03-01T02:00:00")
    assert s.frequency.name == "hourly" and s.frequency.season == 24


def test_time_zone_offset_is_converted_to_utc(tmp_path):
    s = read(tmp_path, "t,v\n2020-03-01T10:00:00+01:00,1\n2020-03-01T11:00:00+01:00,2\n")
    assert s.dates[0] == np.datetime64("2020-03-01T09:00:00")


def test_naive_times_beside_zoned_ones_keep_their_clock(tmp_path):
    # pandas 2.3 gives a time without a zone the zone of the time before it; a naive time stays as written.
    s = read(tmp_path, "t,v\n2020-03-01T10:00:00+01:00,1\n2020-03-01T10:00:00,2\n")
    assert s.dates.tolist() == np.array(["2020-03-01T09:00:00", "2020-03-01T10:00:00"], "datetime64[s]").tolist()


def test_dates_outside_pandas_nanosecond_range(tmp_path):
    # pandas' vector reader stops at 1678 and 2261; the series before (or after) still reads.
    s = read(tmp_path, "year,v\n1659,1\n1660,2\n1661,3\n")
    assert s.dates[0] == np.datetime64("1659-01-01") and s.frequency.name == "yearly"
    s = read(tmp_path, "d,v\n1500-01-01,1\n1500-01-02,2\n2300-01-01  12:00,3\n")
    assert s.dates[-1] == np.datetime64("2300-01-01T12:00:00")


def test_no_warnings_reach_the_user(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read(tmp_path, "d,v\n01/02/2020,1\n01/03/2020,2\n01/04/2020,3\n", start="2020-02-01")
        read(tmp_path, "t,v\n2020-03-01 10:00Z,1\n2020-03-01 12:00+01:00,2\n2020-03-01 12:00,3\n")
        read(tmp_path, "d;v\n01.02.1600;1,5\n02.02.1600;NA\n03.02.1600;3\n", fill="ffill")


def test_ambiguous_day_month_prefers_file_order_then_day_first(tmp_path):
    # Read day first, 01/02 .. 01/05 are Feb..May (in order); month first, Jan 1..4 would be
    # in order too: both valid, both ordered, both regular -> day first, and the report says so.
    s = read(tmp_path, "d,v\n01/02/2020,1\n01/03/2020,2\n01/04/2020,3\n01/05/2020,4\n")
    assert s.dates[0] == np.datetime64("2020-02-01") and s.frequency.name == "monthly"
    assert reported(s, "could be DD/MM/YYYY or MM/DD/YYYY")
    assert reported(s, "read as DD/MM/YYYY because day first is the international convention")
    # Only month first keeps the rows in order: 03/01 (Mar 1 / Jan 3), 01/02, 05/02 ...
    s = read(tmp_path, "d,v\n01/03/2020,1\n01/04/2020,2\n01/05/2020,3\n02/01/2020,4\n")
    assert s.dates[0] == np.datetime64("2020-01-03")  # month first: Jan 3, 4, 5, Feb 1
    assert reported(s, "read as MM/DD/YYYY because it keeps the rows in date order")


def test_unsorted_dates_are_sorted_and_reported(tmp_path):
    s = read(tmp_path, "d,v\n2020-01-03,3\n2020-01-01,1\n2020-01-02,2\n")
    assert s.values.tolist() == [1, 2, 3]
    assert np.all(np.diff(s.dates.astype(np.int64)) > 0)
    assert reported(s, "not in date order; sorted")
    s = read(tmp_path, "d,v\n2020-01-03,3\n2020-01-02,2\n2020-01-01,1\n")
    assert s.values.tolist() == [1, 2, 3] and reported(s, "descending date order")


def test_default_target_is_the_last_numeric_column(tmp_path):
    text = "d,a,b,label\n2020-01-01,1,10,x\n2020-01-02,2,20,y\n"
    s = read(tmp_path, text)
    assert s.name == "b" and s.values.tolist() == [10, 20]
    s = read(tmp_path, text, covariates="b")
    assert s.name == "a" and s.covariate_names == ["b"]


def test_covariates_by_name_and_number(tmp_path):
    text = "d,x,y,z\n2020-01-01,1,10,100\n2020-01-02,2,20,200\n2020-01-03,3,30,300\n"
    s = read(tmp_path, text, column="z", covariates="x, 3")
    assert s.name == "z" and s.values.tolist() == [100, 200, 300]
    assert s.covariate_names == ["x", "y"]
    assert s.covariates.shape == (3, 2) and s.covariates.dtype == np.float64
    assert s.covariates.tolist() == [[1, 10], [2, 20], [3, 30]]


def test_values_read_exactly(tmp_path):
    # 17 significant digits, as Yahoo's S&P 500 export writes them: pandas' own parser misses the last bit.
    cells = ["18.260000228881836", "18.360000610351562", "18.649999618530273", "1e-5", "-.5"]
    s = read(tmp_path, "d,v\n" + "".join(f"2020-01-{i + 1:02d},{c}\n" for i, c in enumerate(cells)))
    assert s.values.tolist() == [float(c) for c in cells]


def test_start_and_end(tmp_path):
    text = "d,v\n" + "".join(f"2020-{m:02d}-15,{m}\n" for m in range(1, 13))
    s = read(tmp_path, text, start="2020-03-01", end="2020-05")  # a month as the end covers all of May
    assert s.values.tolist() == [3, 4, 5]
    assert reported(s, "kept 3 of 12 rows")
    s = read(tmp_path, text, end="2020-02-15")  # inclusive
    assert s.values.tolist() == [1, 2]


def test_start_end_can_cut_away_bad_rows(tmp_path):
    s = read(tmp_path, "d,v\n2020-01-01,oops\n2020-01-02,2\n2020-01-03,3\n", start="2020-01-02")
    assert s.values.tolist() == [2, 3]


# -- frequency -------------------------------------------------------------------------------
def test_infer_monthly_keeps_first_or_last_day():
    f = infer_frequency(days("2020-01-01", "2020-02-01", "2020-03-01"))
    assert (f.name, f.season, f.months, f.day) == ("monthly", 12, 1, 1)
    assert np.array_equal(f.next_dates(np.datetime64("2020-03-01"), 3), days("2020-04-01", "2020-05-01", "2020-06-01"))
    f = infer_frequency(days("2020-01-31", "2020-02-29", "2020-03-31"))
    assert f.day == -1
    assert np.array_equal(f.next_dates(np.datetime64("2020-03-31"), 3), days("2020-04-30", "2020-05-31", "2020-06-30"))
    f = infer_frequency(days("2020-10-15", "2020-11-15", "2020-12-15"))
    assert f.day == 15 and f.next_dates(np.datetime64("2020-12-15"), 1)[0] == np.datetime64("2021-01-15")


def test_infer_quarterly_yearly_weekly():
    f = infer_frequency(days("2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01"))
    assert (f.name, f.season, f.months) == ("quarterly", 4, 3)
    assert f.next_dates(np.datetime64("2020-10-01"), 2).tolist() == days("2021-01-01", "2021-04-01").tolist()
    f = infer_frequency(days("2018-01-01", "2019-01-01", "2020-01-01"))
    assert (f.name, f.season, f.months) == ("yearly", 1, 12)
    f = infer_frequency(days("2020-01-05", "2020-01-12", "2020-01-19", "2020-01-26"))
    assert (f.name, f.season) == ("weekly", 52)
    assert f.next_dates(np.datetime64("2020-01-26"), 1)[0] == np.datetime64("2020-02-02")


def test_infer_daily_and_business_daily():
    all_days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    f = infer_frequency(all_days)
    assert (f.name, f.season) == ("daily", 7)
    weekdays = all_days[np.is_busday(all_days)]
    f = infer_frequency(weekdays)
    assert (f.name, f.season) == ("business-daily", 5)


def test_business_daily_next_dates_skip_weekends():
    f = Frequency("business-daily", np.timedelta64(1, "D"), 5)
    friday = np.datetime64("2024-01-05")
    assert np.array_equal(f.next_dates(friday, 3), days("2024-01-08", "2024-01-09", "2024-01-10"))
    out = f.next_dates(np.datetime64("2024-01-05T16:00:00"), 1)  # times of day are kept
    assert out[0] == np.datetime64("2024-01-08T16:00:00")
    assert f.next_dates(friday, 0).shape == (0,)


def test_infer_hourly_minutely_and_every_n():
    t = np.datetime64("2024-01-01T00:00:00") + np.arange(10) * np.timedelta64(3600, "s")
    assert infer_frequency(t).name == "hourly"
    t = np.datetime64("2024-01-01T00:00:00") + np.arange(10) * np.timedelta64(60, "s")
    f = infer_frequency(t)
    assert (f.name, f.season) == ("minutely", 60)
    t = np.datetime64("2024-01-01T00:00:00") + np.arange(10) * np.timedelta64(900, "s")
    assert (infer_frequency(t).name, infer_frequency(t).season) == ("every 15 minutes", 96)
    f = infer_frequency(days("2020-01-01", "2020-01-03", "2020-01-05", "2020-01-07"))
    assert f.name == "every 2 days"
    assert f.next_dates(np.datetime64("2020-01-07"), 1)[0] == np.datetime64("2020-01-09")


def test_infer_irregular():
    f = infer_frequency(days("2020-01-01", "2020-01-04", "2020-01-09", "2020-01-10", "2020-01-17", "2020-01-23"))
    assert f.name == "irregular" and f.season == 1


def test_infer_needs_two_dates():
    with pytest.raises(RnnkitError, match="at least two"):
        infer_frequency(days("2020-01-01"))


def test_yearly_series_from_a_year_column(tmp_path):
    s = read(tmp_path, "year,v\n2001,1\n2002,2\n2003,3\n")
    assert s.frequency.name == "yearly"
    assert s.frequency.next_dates(s.dates[-1], 1)[0] == np.datetime64("2004-01-01")


# -- gaps and fills --------------------------------------------------------------------------
GAPPY = "d,v\n2020-01-01,1\n2020-01-02,2\n2020-01-04,4\n2020-01-05,\n2020-01-06,6\n2020-01-08,10\n"


def test_missing_dates():
    f = Frequency("daily", np.timedelta64(1, "D"), 7)
    got = missing_dates(days("2020-01-01", "2020-01-04", "2020-01-05", "2020-01-07"), f)
    assert np.array_equal(got, days("2020-01-02", "2020-01-03", "2020-01-06"))
    f = infer_frequency(days("2020-01-01", "2020-02-01", "2020-03-01"))
    assert np.array_equal(missing_dates(days("2020-01-01", "2020-04-01"), f), days("2020-02-01", "2020-03-01"))
    # Business days: the Monday holiday is a gap, the weekend is not.
    f = Frequency("business-daily", np.timedelta64(1, "D"), 5)
    assert np.array_equal(missing_dates(days("2024-01-05", "2024-01-09"), f), days("2024-01-08"))


def test_gaps_reported_without_fill(tmp_path):
    text = GAPPY.replace("2020-01-05,\n", "2020-01-05,5\n")
    s = read(tmp_path, text)
    assert s.values.tolist() == [1, 2, 4, 5, 6, 10]  # rows are kept as they are
    assert reported(s, "2 missing dates against the daily frequency: 2020-01-03, 2020-01-07")


def test_fill_interpolate_values_and_dates(tmp_path):
    s = read(tmp_path, GAPPY, fill="interpolate")
    assert np.array_equal(s.dates, np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-09")))
    # 01-03 between 2 and 4; 01-05 between 4 and 6; 01-07 between 6 and 10.
    assert s.values.tolist() == [1, 2, 3, 4, 5, 6, 8, 10]
    assert reported(s, "inserted 2 missing dates") and reported(s, "filled 3 missing values")


def test_fill_interpolate_is_linear_in_time(tmp_path):
    # Without gaps to insert (irregular), an empty value is interpolated by date, not by row.
    text = "d,v\n2020-01-01,0\n2020-01-02,\n2020-01-11,10\n2020-01-13,0\n2020-01-20,5\n2020-01-21,5\n"
    s = read(tmp_path, text, fill="interpolate")
    assert s.frequency.name == "irregular"
    assert s.values[1] == pytest.approx(1.0)


def test_fill_ffill_values_and_leading_missing(tmp_path):
    s = read(tmp_path, GAPPY, fill="ffill")
    assert s.values.tolist() == [1, 2, 2, 4, 4, 6, 6, 10]
    s = read(tmp_path, "d,v\n2020-01-01,NA\n2020-01-02,nan\n2020-01-03,3\n2020-01-04,?\n", fill="ffill")
    assert s.values.tolist() == [3, 3, 3, 3]
    assert reported(s, "the first 2 took the first value")
    s = read(tmp_path, "d,v\n2020-01-01,null\n2020-01-02,2\n2020-01-03,\n2020-01-04,4\n", fill="interpolate")
    assert s.values.tolist() == [2, 2, 3, 4]


def test_fill_covariates_too(tmp_path):
    s = read(tmp_path, "d,x,v\n2020-01-01,1,10\n2020-01-02,,20\n2020-01-04,4,40\n", covariates="x", fill="interpolate")
    assert s.values.tolist() == [10, 20, 30, 40]
    assert s.covariates[:, 0].tolist() == [1, 2, 3, 4]


def test_business_daily_fill_inserts_holidays(tmp_path):
    # Mon 2024-01-01 (a holiday) is missing; Fri 01-05 -> Mon 01-08 is a weekend, not a gap.
    rows = [("2023-12-28", 1), ("2023-12-29", 2), ("2024-01-02", 4), ("2024-01-03", 5), ("2024-01-04", 6),
            ("2024-01-05", 7), ("2024-01-08", 8), ("2024-01-09", 9)]
    text = "d,v\n" + "".join(f"{d},{v}\n" for d, v in rows)
    s = read(tmp_path, text)
    assert s.frequency.name == "business-daily" and len(s) == 8
    assert reported(s, "1 missing business day (weekdays without a row") and reported(s, "2024-01-01")
    s = read(tmp_path, text, fill="ffill")
    assert len(s) == 9 and s.dates[2] == np.datetime64("2024-01-01") and s.values[2] == 2


# -- calendar features -----------------------------------------------------------------------
def test_calendar_features_monthly():
    dates = days("2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01")
    f = infer_frequency(np.arange(np.datetime64("2020-01"), np.datetime64("2021-01")).astype("datetime64[D]"))
    x, names = calendar_features(dates, f)
    assert names == ["month_sin", "month_cos"] and x.shape == (4, 2) and x.dtype == np.float64
    np.testing.assert_allclose(x[:, 0], [0, 1, 0, -1], atol=1e-12)  # January 0, April 1/4 turn, July 1/2
    np.testing.assert_allclose(x[:, 1], [1, 0, -1, 0], atol=1e-12)


def test_calendar_features_daily_and_hourly():
    d = np.arange(np.datetime64("2024-01-01"), np.datetime64("2025-01-01"))  # 2024 starts on a Monday
    x, names = calendar_features(d, infer_frequency(d))
    assert names == ["month_sin", "month_cos", "day_of_week_sin", "day_of_week_cos",
                     "day_of_year_sin", "day_of_year_cos"]
    assert x.shape == (366, 6) and np.all(np.abs(x) <= 1)
    assert x[0, 2] == pytest.approx(0) and x[0, 3] == pytest.approx(1)  # Monday
    assert x[7, 2:4] == pytest.approx(x[0, 2:4])  # the weekday comes back a week later ...
    assert x[7, 4] != pytest.approx(x[0, 4])  # ... the day of year does not
    assert x[0, 0] == pytest.approx(0) and x[182, 0] == pytest.approx(0, abs=1e-12)  # January, July: sin 0
    assert x[0, 1] == pytest.approx(1) and x[182, 1] == pytest.approx(-1)  # ... and cos 1 vs -1
    assert x[0, 4:6] == pytest.approx([0, 1])  # January 1
    t = np.datetime64("2024-01-01T00:00:00") + np.arange(48) * np.timedelta64(3600, "s")
    x, names = calendar_features(t, infer_frequency(t))
    assert names[-2:] == ["time_of_day_sin", "time_of_day_cos"] and x.shape == (48, 8)
    assert x[6, 6] == pytest.approx(1) and x[24, 6:8] == pytest.approx([0, 1])  # 06:00 and midnight


def test_calendar_features_yearly_has_none():
    d = days("2018-01-01", "2019-01-01", "2020-01-01")
    x, names = calendar_features(d, infer_frequency(d))
    assert x.shape == (3, 0) and names == []


# -- bad input -------------------------------------------------------------------------------
def test_file_not_found_directory_and_empty(tmp_path):
    with pytest.raises(RnnkitError, match="not found"):
        read_series(SeriesConfig(data=str(tmp_path / "nope.csv")))
    with pytest.raises(RnnkitError, match="directory"):
        read_series(SeriesConfig(data=str(tmp_path)))
    with pytest.raises(RnnkitError, match="--data"):
        read_series(SeriesConfig())
    assert "is empty" in error(tmp_path, "")
    assert "is empty" in error(tmp_path, "\r\n\n  \n")
    assert "no data rows" in error(tmp_path, "date,value\n")


def test_non_numeric_value_names_line_column_and_value(tmp_path):
    msg = error(tmp_path, "d,v\n2020-01-01,1\n\n2020-01-02,abc\n2020-01-03,3\n")
    assert "line 4" in msg and "'v'" in msg and "'abc'" in msg and "not a number" in msg
    msg = error(tmp_path, 'd,v\n2020-01-01,"1,234"\n2020-01-02,2\n')
    assert "line 2" in msg and "thousands" in msg


def test_line_numbers_count_the_header_and_crlf(tmp_path):
    msg = error(tmp_path, "d,v\r\n2020-01-01,1\r\n2020-01-02,x\r\n")
    assert "line 3" in msg


def test_no_date_column(tmp_path):
    msg = error(tmp_path, "a,b\n1,2\n3,4\n")
    assert "no date column" in msg and "YYYY-MM-DD" in msg and "--date-column" in msg
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,2\n2020-02-30,3\n")  # a typo in a date column
    assert "line 4" in msg and "'2020-02-30'" in msg and "not a date" in msg
    msg = error(tmp_path, "d,v\n2020-01-0l,1\n2020-01-02,2\n2020-01-03,3\n")  # on the first row
    assert "line 2" in msg and "'2020-01-0l'" in msg
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,2\n", date_column="v")
    assert "'v'" in msg and "not a date" in msg
    msg = error(tmp_path, "d,v\n2020-01-01,1\n,2\n")
    assert "line 3 has no date" in msg


def test_duplicate_dates(tmp_path):
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n2020-01-03,4\n2020-01-03,5\n")
    assert "duplicate dates: 2020-01-02 appears 2 times (lines 3, 4)" in msg
    assert "1 more date repeats" in msg and "aggregate" in msg
    msg = error(tmp_path, "day,time,v\n2020-01-01,10:00,1\n2020-01-01,11:00,2\n")
    assert "appears 2 times" in msg and "column 'time'" in msg


def test_unclosed_quote(tmp_path):
    msg = error(tmp_path, 'd,v\n"2020-01-01,1\n2020-01-02,2\n')
    assert "line 2" in msg and "quote" in msg


def test_missing_values_without_fill(tmp_path):
    text = "d,v\n2020-01-01,1\n2020-01-02,\n2020-01-03,NA\n2020-01-04,4\n2020-01-05,nan\n2020-01-06,null\n"
    msg = error(tmp_path, text)
    assert msg.count("line") >= 3 and "4 missing values" in msg
    assert "line 3 (2020-01-02), line 4 (2020-01-03), line 6 (2020-01-05)" in msg
    assert "--fill interpolate" in msg


def test_missing_values_in_a_covariate(tmp_path):
    msg = error(tmp_path, "d,x,v\n2020-01-01,1,1\n2020-01-02,?,2\n", covariates="x")
    assert "1 missing value" in msg and "'x'" in msg and "line 3" in msg


def test_nan_and_inf_literals(tmp_path):
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,inf\n")
    assert "line 3" in msg and "'inf'" in msg and "infinite" in msg
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,-Infinity\n", fill="interpolate")
    assert "infinite" in msg  # infinity stays an error with --fill
    assert "line 3" in error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,NaN\n2020-01-03,3\n")
    s = read(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,NaN\n2020-01-03,3\n", fill="interpolate")
    assert s.values.tolist() == [1, 2, 3]


def test_unknown_columns_list_the_columns(tmp_path):
    text = "Date,Open,Close\n2020-01-01,1,2\n2020-01-02,3,4\n"
    msg = error(tmp_path, text, column="Price")
    assert "--column" in msg and "'Price'" in msg and "'Date', 'Open', 'Close'" in msg
    msg = error(tmp_path, text, covariates="Open,Volume")
    assert "--covariates" in msg and "'Volume'" in msg and "'Open'" in msg
    msg = error(tmp_path, text, column="7")
    assert "out of range" in msg and "1 to 3" in msg


def test_target_is_the_date_column(tmp_path):
    msg = error(tmp_path, "Date,Close\n2020-01-01,1\n2020-01-02,2\n", column="Date")
    assert "--column" in msg and "date column" in msg and "'Close'" in msg
    msg = error(tmp_path, "Date,Close\n2020-01-01,1\n2020-01-02,2\n", column="1")
    assert "date column" in msg
    msg = error(tmp_path, "Date,x,Close\n2020-01-01,1,1\n2020-01-02,2,2\n", column="Close", covariates="Close")
    assert "--covariates" in msg


def test_no_numeric_column(tmp_path):
    msg = error(tmp_path, "d,name,kind\n2020-01-01,a,x\n2020-01-02,b,y\n")
    assert "no numeric column" in msg and "'name', 'kind'" in msg
    msg = error(tmp_path, "d,name\n2020-01-01,a\n2020-01-02,b\n")  # the only column: its first cell
    assert "line 2, column 'name': 'a' is not a number" in msg
    assert "no column besides the date" in error(tmp_path, "d\n2020-01-01\n2020-01-02\n")
    # Column errors come before row counts: a one-row file still names the missing column.
    assert "no column 'Price'" in error(tmp_path, "Date,Close\n2020-01-01,1\n", column="Price")


def test_ragged_rows(tmp_path):
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,2,3\n")
    assert "line 3 has 3 fields but the header has 2" in msg
    s = read(tmp_path, "d,v\n2020-01-01,1,\n2020-01-02,2\n")  # a trailing empty field is fine
    assert s.values.tolist() == [1, 2]
    msg = error(tmp_path, 'd,v,w\n2020-01-01,1,2\n\n"2020-01-02",2\n2020-01-03,3,4\n')
    assert "line 4 has 2 fields but the header has 3" in msg


def test_start_end_leave_no_rows(tmp_path):
    msg = error(tmp_path, DAILY, start="2021-01-01")
    assert "--start 2021-01-01" in msg and "no rows left" in msg and "2020-01-01 to 2020-01-04" in msg
    assert "only one row" in error(tmp_path, DAILY, start="2020-01-04")


def test_config_validation():
    with pytest.raises(RnnkitError, match="--fill"):
        SeriesConfig(fill="zero")
    with pytest.raises(RnnkitError, match="--encoding"):
        SeriesConfig(encoding="nope")
    with pytest.raises(RnnkitError, match="--start: 'yesterday' is not a date"):
        SeriesConfig(start="yesterday")
    with pytest.raises(RnnkitError, match="--end: '2020-02-30' is not a valid date"):
        SeriesConfig(end="2020-02-30")
    with pytest.raises(RnnkitError, match="--start: '01/02/2020' is ambiguous"):
        SeriesConfig(start="01/02/2020")
    with pytest.raises(RnnkitError, match="--end: 1999-01-01 is before --start"):
        SeriesConfig(start="2000-01-01", end="1999-01-01")
    SeriesConfig(start="2000", end="2000")  # the whole year 2000
    SeriesConfig(start="25/12/2000", end="2001-01-01T12:00")


def test_bad_encoding_and_binary(tmp_path):
    msg = error(tmp_path, "d,v\n2020-01-01,1\n2020-01-02,caf\xe9\n".encode("latin-1"))
    assert "line 3" in msg and "--encoding" in msg
    assert "binary" in error(tmp_path, b"\x00\x01\x02d,v\n")


# -- the real data sets ----------------------------------------------------------------------
def test_airline_passengers():
    s = read_series(SeriesConfig(data=str(shared("airline-passengers.csv"))))
    assert len(s) == 144 and s.values[0] == 112 and s.values[-1] == 432
    assert s.name == "Passengers" and s.dates[0] == np.datetime64("1949-01-01")
    assert (s.frequency.name, s.frequency.season) == ("monthly", 12)
    assert reported(s, "no gaps")
    assert s.frequency.next_dates(s.dates[-1], 1)[0] == np.datetime64("1961-01-01")


def test_daily_min_temperatures_two_missing_new_years_eves():
    s = read_series(SeriesConfig(data=str(shared("daily-min-temperatures.csv"))))
    assert len(s) == 3650 and s.frequency.name == "daily"
    assert reported(s, "2 missing dates against the daily frequency: 1984-12-31, 1988-12-31")
    filled = read_series(SeriesConfig(data=str(shared("daily-min-temperatures.csv")), fill="interpolate"))
    assert len(filled) == 3652
    i = int(np.nonzero(filled.dates == np.datetime64("1984-12-31"))[0][0])
    assert filled.values[i] == pytest.approx((filled.values[i - 1] + filled.values[i + 1]) / 2)


def test_sp500_close_since_2000_is_business_daily():
    s = read_series(SeriesConfig(data=str(shared("sp500-gspc-daily.csv")), column="Close", start="2000-01-01"))
    assert s.name == "Close" and s.dates[0] == np.datetime64("2000-01-03")
    assert (s.frequency.name, s.frequency.season) == ("business-daily", 5)
    assert len(s) == 6036 and not np.any(np.isnan(s.values))
    assert reported(s, "missing business days")  # market holidays
    assert np.all(np.is_busday(s.frequency.next_dates(s.dates[-1], 10)))


def test_monthly_sunspots():
    s = read_series(SeriesConfig(data=str(shared("monthly-sunspots.csv"))))
    assert len(s) == 2820 and s.frequency.name == "monthly" and s.name == "Sunspots"
    assert s.dates[0] == np.datetime64("1749-01-01") and s.dates[-1] == np.datetime64("1983-12-01")
