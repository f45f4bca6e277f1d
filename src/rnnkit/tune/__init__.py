"""Hyperparameter search for every task on Optuna (see api.py)."""
