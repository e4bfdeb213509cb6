"""The command line's contract: help, exit codes, clean one-line errors."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ordersync import cli
from ordersync.cli import app

runner = CliRunner()


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    from ordersync.config import load_config

    target = tmp_path / "ordersync.yaml"
    result = runner.invoke(app, ["init", "--output", str(target)])
    assert result.exit_code == 0, result.output
    config = load_config(target)
    assert [s.name for s in config.sources] == ["taobao", "pdd", "oms", "wms", "kuaidi100"]
    assert config.store_path == (tmp_path / "ordersync-data").resolve()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "ordersync.yaml"
    target.write_text("timezone: UTC\n")
    result = runner.invoke(app, ["init", "--output", str(target)])
    assert result.exit_code == 2
    assert "--force" in result.output
    assert target.read_text() == "timezone: UTC\n"


def test_missing_config_is_exit_2_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["--config", str(missing), "pull"])
    assert result.exit_code == 2
    assert str(missing) in result.output
    assert "Traceback" not in result.output


def test_config_error_names_file_and_key_path(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "sources:\n"
        "  - name: oms\n"
        "    kind: oms\n"
        "    format: csv\n"
        "    path: oms.csv\n"
        "    columns: {order_id: 单号}\n"
        "rules:\n"
        "  ship_sla: 2 weeks\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--config", str(config), "pull"])
    assert result.exit_code == 2
    assert str(config) in result.output
    assert "rules.ship_sla" in result.output
    assert "48h" in result.output  # says what was expected


def test_missing_secret_names_the_variable_not_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERSYNC_TEST_TOKEN", raising=False)
    monkeypatch.setenv("SOME_OTHER_SECRET", "hunter2-secret")
    config = tmp_path / "c.yaml"
    config.write_text(
        'notify:\n  - url: "json://localhost/${ORDERSYNC_TEST_TOKEN}"\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["--config", str(config), "pull"])
    assert result.exit_code == 2
    assert "ORDERSYNC_TEST_TOKEN" in result.output
    assert "notify[0].url" in result.output
    assert "hunter2" not in result.output


def test_unknown_rule_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("timezone: Asia/Shanghai\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "reconcile", "--rule", "missing_orders"])
    assert result.exit_code == 2
    assert "missing_orders" in result.output


def test_bad_as_of_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("timezone: Asia/Shanghai\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "reconcile", "--as-of", "yesterday"])
    assert result.exit_code == 2
    assert "yesterday" in result.output


def test_every_command_has_help_with_an_example() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        help_text = command.help or ""
        assert help_text.strip(), f"{name} has no help"
        assert "Example" in help_text, f"{name} help has no example"


def test_reconcile_progress_on_a_terminal_counts_the_pieces(monkeypatch) -> None:
    """On a terminal the phases show as they run, a large store's pieces counted."""
    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=100))
    monkeypatch.setattr(cli.state, "verbosity", 0)
    progress = cli._ReconcileProgress()
    progress.phase("split", 102)
    progress.phase("judge", 102)
    for _ in range(3):
        progress.piece_judged()
    progress.bar.refresh()
    shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.getvalue())
    progress.phase("save")
    progress.close()
    assert "splitting the store into 102 buckets" in shown
    assert "judging 102 pieces 3/102" in shown
    # Without -v the bar is all: it leaves no lines behind.
    assert "reconcile: " not in screen.getvalue()
