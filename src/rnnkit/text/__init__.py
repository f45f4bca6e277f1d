"""Language modeling: character- and word-level text, n-gram baselines, recurrent models."""
