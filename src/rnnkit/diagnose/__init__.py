"""Diagnosing runs: what limits a model, measured.

``bias_variance.py`` holds the verdict of ``improving-your-rnn.md`` (pure, unit-agnostic) and
what a task measures for it; ``diagnosis.py`` measures a run through the task registry and writes
the advice; ``learning_curve.py`` trains at several fractions of the training split;
``gradient_flow.py`` measures gradients through time. Each task's own error measurement (its
unit, its cheap strong baseline) lives in that task's package (``diagnosis.py``).
"""
