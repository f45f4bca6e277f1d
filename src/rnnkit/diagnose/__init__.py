"""Diagnosing a trained run: the bias/variance verdict (``improving-your-rnn.md``) and learning curves.

``bias_variance.py`` holds the verdict logic (pure, unit-agnostic) and what a task measures
for it; ``diagnosis.py`` measures a run through the task registry and writes the advice;
``learning_curve.py`` trains at several fractions of the training split. Each task's own
measurement (its error unit, its cheap strong baseline) lives in that task's package.
"""
