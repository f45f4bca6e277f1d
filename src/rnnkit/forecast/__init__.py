"""Forecasting: predict the next values of a numeric time series."""
