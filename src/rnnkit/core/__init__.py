"""The machinery every task shares: configuration, errors, files, run directories, checkpoints,
the training loop and its progress display."""
