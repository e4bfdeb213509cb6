"""The config loader: presets, key paths in errors, secrets, durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ordersync.config import load_config, parse_duration
from ordersync.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "ordersync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_column_key_is_reported_at_its_own_path(tmp_path):
    path = write(
        tmp_path,
        "sources:\n  - name: tb\n    preset: taobao_export\n    path: x.xlsx\n    columns: {order_idd: 订单号}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "sources[0].columns.order_idd" in message
    assert "unknown canonical field 'order_idd'" in message
    assert str(path) in message
    assert caught.value.exit_code == 2


def test_preset_fills_columns_and_explicit_keys_win(tmp_path):
    path = write(
        tmp_path,
        "sources:\n  - name: tb\n    preset: taobao_export\n    path: x.xlsx\n"
        "    columns: {amount: 实付}\n    status_map: {交易成功: shipped}\n",
    )
    source = load_config(path).sources[0]
    assert source.columns["order_id"] == "订单编号"
    assert source.columns["amount"] == "实付"
    assert source.status_map["交易成功"] == "shipped"
    assert source.status_map["交易关闭"] == "cancelled"
    assert source.channel == "taobao"


def test_status_map_to_a_non_canonical_status_is_rejected(tmp_path):
    path = write(
        tmp_path,
        "sources:\n  - {name: o, kind: oms, format: csv, path: a.csv, columns: {order_id: x}, status_map: {a: sent}}\n",
    )
    with pytest.raises(ConfigError, match=r"sources\[0\].*'sent'.*not a canonical status"):
        load_config(path)


def test_missing_env_secret_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("ORDERSYNC_TEST_TOKEN", raising=False)
    path = write(tmp_path, "notify:\n  - url: 'wecombot://${ORDERSYNC_TEST_TOKEN}'\n")
    with pytest.raises(ConfigError, match="ORDERSYNC_TEST_TOKEN is not set"):
        load_config(path)
    monkeypatch.setenv("ORDERSYNC_TEST_TOKEN", "s3cret")
    config = load_config(path)
    assert config.redact("url wecombot://s3cret") == "url wecombot://***"


def test_required_order_id_and_unknown_preset(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: o, kind: oms, format: csv, path: a.csv}\n")
    with pytest.raises(ConfigError, match=r"columns\.order_id is required"):
        load_config(path)
    path = write(tmp_path, "sources:\n  - {name: o, preset: taobao, path: a.csv}\n")
    with pytest.raises(ConfigError, match="unknown preset 'taobao'"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("48h", timedelta(hours=48)),
        ("1h30m", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        (2, timedelta(hours=2)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


def test_bad_duration_names_the_key(tmp_path):
    path = write(tmp_path, "rules:\n  ship_sla: {default: 48h, pdd: soon}\n")
    with pytest.raises(ConfigError, match=r"rules\.ship_sla"):
        load_config(path)
