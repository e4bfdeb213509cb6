"""Notifications go to a real HTTP server on 127.0.0.1 through apprise's json:// target."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ordersync.config import config_from_dict
from ordersync.findings import ReconcileResult
from ordersync.reports import send_notifications

from .conftest import build_findings, build_result

SECRET = "s3cr3t-token-value"


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, object]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", SECRET)


def test_digest_reaches_a_json_webhook(hook: ThreadingHTTPServer, result: ReconcileResult) -> None:
    port = hook.server_address[1]
    config = config_from_dict(
        {"notify": [{"url": f"json://127.0.0.1:{port}/hook?token=${{HOOK_TOKEN}}", "name": "ops"}]}
    )
    outcome = send_notifications(config, result, workbook=Path("/srv/audit.xlsx"))
    assert outcome.sent == ["ops"]
    assert outcome.failed == []
    (payload,) = hook.received  # type: ignore[attr-defined]
    assert payload["title"] == "订单对账 2026-11-25 10:00 Asia/Shanghai"
    message = str(payload["message"])
    assert "**退款未拦截** (严重) × 1" in message
    assert "- `3456789012345678902` taobao" in message
    assert "完整报告: /srv/audit.xlsx" in message
    assert "#1001" not in message  # acknowledged


def test_a_failing_target_is_reported_not_raised(
    hook: ThreadingHTTPServer, result: ReconcileResult
) -> None:
    port = hook.server_address[1]
    dead = _closed_port()
    config = config_from_dict(
        {
            "notify": [
                f"json://127.0.0.1:{dead}/x/${{HOOK_TOKEN}}",
                "nosuchscheme://whatever",
                f"json://127.0.0.1:{port}/ok",
            ]
        }
    )
    outcome = send_notifications(config, result, lang="en")
    assert len(outcome.sent) == 1
    assert outcome.sent[0].startswith(f"json://127.0.0.1:{port}/ok")
    assert [name.split(":")[0] for name, _ in outcome.failed] == ["json", "nosuchscheme"]
    dead_error = outcome.failed[0][1]
    assert "connection" in dead_error.lower()
    assert SECRET not in repr(outcome)
    assert not outcome.ok
    assert len(hook.received) == 1  # type: ignore[attr-defined]


def test_quiet_when_nothing_new_is_urgent(hook: ThreadingHTTPServer) -> None:
    port = hook.server_address[1]
    config = config_from_dict({"notify": [f"json://127.0.0.1:{port}/"]})
    calm = build_result([r for r in build_findings() if r["severity"] == "medium"])
    outcome = send_notifications(config, calm)
    assert outcome.skipped == "no new critical/high findings"
    assert hook.received == []  # type: ignore[attr-defined]
    forced = send_notifications(config, calm, always=True)
    assert len(forced.sent) == 1
    assert len(hook.received) == 1  # type: ignore[attr-defined]


def test_no_targets_sends_nothing(result: ReconcileResult) -> None:
    outcome = send_notifications(config_from_dict({}), result)
    assert outcome.sent == [] and outcome.failed == []
    assert outcome.skipped == "no notify targets configured"
