"""Diagnosing runs: what limits a model, measured."""
