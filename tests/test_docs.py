"""The README stays true: every command, config key and preset is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from ordersync.cli import app
from ordersync.config import Config, ReportConfig, RulesConfig, SourceConfig, StoreConfig
from ordersync.sources.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_command() -> None:
    for name in typer.main.get_command(app).commands:
        assert re.search(rf"\b{re.escape(name)}\b", README), f"README does not mention `{name}`"


def test_readme_documents_every_config_key() -> None:
    internal = {"base_dir", "file", "secrets", "doc", "api"}
    for prefix, model in (
        ("", Config),
        ("store.", StoreConfig),
        ("rules.", RulesConfig),
        ("report.", ReportConfig),
        ("", SourceConfig),
    ):
        for key in model.model_fields:
            if key in internal:
                continue
            assert f"`{prefix}{key}" in README or f"`{key}`" in README, (
                f"README lacks config key {prefix}{key}"
            )


def test_readme_documents_every_preset() -> None:
    for name in PRESETS:
        assert f"`{name}`" in README, f"README lacks preset {name}"


def test_example_config_is_the_starter_config() -> None:
    starter = (ROOT / "src" / "ordersync" / "starter_config.yaml").read_text(encoding="utf-8")
    assert (ROOT / "config.example.yaml").read_text(encoding="utf-8") == starter


def test_readme_commands_are_the_ci_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in README
    assert "python -m pytest -q" in ci
    assert "ordersync demo" in README
