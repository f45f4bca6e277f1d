"""Typed configuration helpers: ``SECTION.OPTION=VALUE`` settings read as TOML, merged into a config."""

import pytest

from rnnkit.audio.task import AudioConfig
from rnnkit.core.config import from_dict, merge, parse_scalar, settings
from rnnkit.core.errors import RnnkitError


def test_values_are_read_as_toml():
    assert parse_scalar("2e-3") == 0.002 and parse_scalar("768") == 768 and parse_scalar("true") is True
    assert parse_scalar("[1, 2]") == [1, 2] and parse_scalar("gru") == "gru"


def test_settings_become_sections_of_a_config():
    over = settings(["augment.vtlp=0.1", "model.cell=lstm", "model.hidden_size=32"])
    assert over == {"augment": {"vtlp": 0.1}, "model": {"cell": "lstm", "hidden_size": 32}}
    cfg = from_dict(AudioConfig, merge({"data": {"data": "clips"}, "model": {"layers": 2}}, over))
    assert (cfg.augment.vtlp, cfg.model.cell, cfg.model.hidden_size, cfg.model.layers) == (0.1, "lstm", 32, 2)


@pytest.mark.parametrize("item", ["vtlp=0.1", "augment.vtlp", "augment.vtlp=", ".vtlp=1", "augment.=1"])
def test_a_malformed_setting_is_named(item):
    with pytest.raises(RnnkitError, match="is not SECTION.OPTION=VALUE"):
        settings([item])
