"""The whole command-line workflow on a generated world, the way an operator runs it.

One world (its config extended with a `report:` section and a notify target whose secret comes
from an environment variable and whose port is closed). The module's fixtures run, in order:
pull, pull again, reconcile --notify, reconcile --fail-on critical, ack, audit; the tests read
their outcomes and the files they wrote. A bad export and the demo get worlds of their own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from ordersync import schema as s
from ordersync.cli import app
from ordersync.config import load_config
from ordersync.reports.safety import FORMULA_STARTS
from ordersync.samples import World, generate_world
from ordersync.store import Store

SECRET = "s3cr3t-Tok3n-5f0e9c1d7b"
SECRET_ENV = "ORDERSYNC_TEST_NOTIFY_TOKEN"
SOURCES = ("taobao", "pdd", "douyin", "shopify", "oms", "wms", "courier")
AUDIT_XLSX = "report/audit.xlsx"
AUDIT_CORRECTIONS = "report/fixes"


@dataclass
class Flow:
    world: World
    config: Path
    runner: CliRunner
    outcomes: dict[str, object] = field(default_factory=dict)

    def invoke(self, name: str, *args: str):
        result = self.runner.invoke(app, ["--config", str(self.config), *args])
        self.outcomes[name] = result
        return result

    def __getitem__(self, name: str):
        return self.outcomes[name]

    @property
    def as_of(self) -> str:
        return self.world.as_of.isoformat()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ok(result) -> str:
    """What to show when an exit code is not the expected one."""
    return f"exception={result.exception!r}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def _store_frames(config_path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    store = Store.for_config(load_config(config_path))
    return (
        store.findings().collect().sort(s.FINDING_ID),
        store.orders().collect().sort(s.SOURCE, s.ORDER_ID, s.SHIPMENT_ID, nulls_last=True),
        store.pulls(),
    )


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    world = generate_world(tmp_path_factory.mktemp("cli"), seed=11, orders=600)
    config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    config["report"] = {"xlsx": AUDIT_XLSX, "corrections": AUDIT_CORRECTIONS}
    config["notify"] = [{"url": f"json://127.0.0.1:{_closed_port()}/${{{SECRET_ENV}}}"}]
    world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        flow = Flow(world, world.config_path, CliRunner())
        flow.invoke("pull", "pull")
        flow.invoke("pull again", "pull")
        flow.invoke(
            "reconcile",
            "reconcile",
            "--as-of",
            flow.as_of,
            "--notify",
            "--output",
            str(world.root / "out" / "findings.csv"),
        )
        flow.invoke(
            "reconcile critical",
            "-v",
            "reconcile",
            "--as-of",
            flow.as_of,
            "--fail-on",
            "critical",
            "--output",
            str(world.root / "out" / "findings.json"),
        )
        yield flow


@pytest.fixture(scope="module")
def stored(flow: Flow) -> pl.DataFrame:
    return Store.for_config(load_config(flow.config)).findings().collect()


# --- pull -----------------------------------------------------------------------------------


def test_pull_reads_every_source(flow: Flow) -> None:
    result = flow["pull"]
    assert result.exit_code == 0, _ok(result)
    table = result.stdout
    for source in SOURCES:
        assert source in table, f"{source} missing from the pull table:\n{table}"


def test_pull_again_reads_nothing_new(flow: Flow) -> None:
    result = flow["pull again"]
    assert result.exit_code == 0, _ok(result)
    rows = [
        line for line in result.stdout.splitlines() if line.strip("│ ").split(" ")[0] in SOURCES
    ]
    assert len(rows) == len(SOURCES), result.stdout
    for line in rows:
        cells = [c.strip() for c in line.strip("│").split("│")]
        # source, files, skipped, rows read, new, changed, unchanged, unmapped
        assert cells[1] == "0" and cells[3:7] == ["0", "0", "0", "0"], line
    assert "no new files" in result.stdout


# --- reconcile ------------------------------------------------------------------------------


def test_reconcile_exits_0_without_fail_on(flow: Flow) -> None:
    result = flow["reconcile"]
    assert result.exception is None or isinstance(result.exception, SystemExit), _ok(result)
    assert result.exit_code == 0, _ok(result)
    assert "refund_not_stopped" in result.stdout


def test_reconcile_fail_on_critical_exits_1(flow: Flow, stored: pl.DataFrame) -> None:
    result = flow["reconcile critical"]
    assert result.exception is None or isinstance(result.exception, SystemExit), _ok(result)
    assert result.exit_code == 1, _ok(result)
    assert stored.filter(pl.col(s.SEVERITY) == "critical").height > 0


def test_reconcile_says_how_long_each_phase_took_only_when_asked(flow: Flow) -> None:
    """A cron log (no terminal) gets one line per phase with -v, and none without it."""
    lines = flow["reconcile critical"].stderr.splitlines()
    phases = [line.rsplit(": ", 1) for line in lines if line.startswith("reconcile: ")]
    assert [phase for phase, _ in phases] == ["reconcile: judging", "reconcile: saving the run"]
    assert all(re.fullmatch(r"\d+\.\d s", took) for _, took in phases), lines
    assert "reconcile: " not in flow["reconcile"].stderr


def _cells(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_output_csv_matches_the_store_and_is_neutralised(flow: Flow, stored: pl.DataFrame) -> None:
    path = flow.world.root / "out" / "findings.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese messages
    rows = _cells(path)
    assert len(rows) == stored.height
    assert {r[s.FINDING_ID] for r in rows} == set(stored[s.FINDING_ID])
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_STARTS), (column, value)


def test_csv_neutralises_a_formula_looking_value(tmp_path: Path) -> None:
    """A buyer-typed value that looks like a formula is written with a leading quote."""
    from ordersync.cli import _write_frame

    frame = pl.DataFrame(
        {
            s.ORDER_ID: ['=HYPERLINK("http://x","y")', "+86 1", "-5", "@SUM(A1)", "ok"],
            s.SOURCES: [["taobao"], ["oms", "wms"], [], ["pdd"], ["douyin"]],
        }
    )
    _write_frame(frame, tmp_path / "f.csv")
    rows = _cells(tmp_path / "f.csv")
    assert [r[s.ORDER_ID] for r in rows] == [
        '\'=HYPERLINK("http://x","y")',
        "'+86 1",
        "'-5",
        "'@SUM(A1)",
        "ok",
    ]
    assert [r[s.SOURCES] for r in rows] == ["taobao", "oms,wms", "", "pdd", "douyin"]


def test_output_json_matches_the_store(flow: Flow, stored: pl.DataFrame) -> None:
    data = json.loads((flow.world.root / "out" / "findings.json").read_text(encoding="utf-8"))
    assert len(data) == stored.height
    assert {r[s.FINDING_ID] for r in data} == set(stored[s.FINDING_ID])


def test_findings_parquet_output_matches_the_store(flow: Flow, stored: pl.DataFrame) -> None:
    target = flow.world.root / "out" / "findings.parquet"
    result = flow.invoke("findings parquet", "findings", "--format", "parquet", "-o", str(target))
    assert result.exit_code == 0, _ok(result)
    frame = pl.read_parquet(target)
    assert frame.height == stored.height
    assert set(frame[s.FINDING_ID]) == set(stored[s.FINDING_ID])


def test_an_output_that_cannot_be_written_is_a_usage_error(flow: Flow) -> None:
    blocker = flow.world.root / "out" / "a-file"
    blocker.parent.mkdir(exist_ok=True)
    blocker.write_text("")
    target = blocker / "findings.csv"  # a folder that is a file
    result = flow.invoke("findings unwritable", "findings", "-o", str(target))
    assert result.exit_code == 2, _ok(result)
    assert f"--output {target}: cannot write it" in result.stderr
    assert "internal error" not in result.stderr


def test_findings_parquet_without_output_is_a_usage_error(flow: Flow) -> None:
    result = flow.invoke("findings parquet stdout", "findings", "--format", "parquet")
    assert result.exit_code == 2, _ok(result)
    assert "--output" in result.stderr


def test_findings_of_one_rule_as_json(flow: Flow, stored: pl.DataFrame) -> None:
    result = flow.invoke(
        "findings refund json", "findings", "--rule", "refund_not_stopped", "--format", "json"
    )
    assert result.exit_code == 0, _ok(result)
    rows = json.loads(result.stdout)
    expected = stored.filter(pl.col(s.RULE) == "refund_not_stopped")
    assert expected.height > 0
    assert {r[s.RULE] for r in rows} == {"refund_not_stopped"}
    assert {r[s.FINDING_ID] for r in rows} == set(expected[s.FINDING_ID])


def test_findings_as_csv_on_stdout(flow: Flow, stored: pl.DataFrame) -> None:
    result = flow.invoke("findings csv", "findings", "--format", "csv")
    assert result.exit_code == 0, _ok(result)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == stored.height


# --- notify and secrets ---------------------------------------------------------------------


def test_failed_notification_is_reported_and_does_not_change_the_exit_code(flow: Flow) -> None:
    result = flow["reconcile"]
    assert result.exit_code == 0, _ok(result)
    assert "notification" in result.stderr and "failed" in result.stderr, result.stderr


# --- report ---------------------------------------------------------------------------------


def test_report_writes_a_workbook_and_correction_files(flow: Flow) -> None:
    workbook = flow.world.root / "report-en" / "out.xlsx"
    corrections = flow.world.root / "report-en" / "fixes"
    result = flow.invoke(
        "report",
        "report",
        "--xlsx",
        str(workbook),
        "--corrections",
        str(corrections),
        "--lang",
        "en",
    )
    assert result.exit_code == 0, _ok(result)
    book = openpyxl.load_workbook(workbook, read_only=True)
    try:
        assert book.sheetnames[0] == "Summary"
        assert len(book.sheetnames) > 5
    finally:
        book.close()
    names = {p.name for p in corrections.iterdir()}
    for expected in ("intercept_list.csv", "ghost_check.csv", "oms_payment_resync.csv"):
        assert expected in names, names
    assert len(_cells(corrections / "intercept_list.csv")) >= 1


# --- ack ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def acked(flow: Flow, stored: pl.DataFrame) -> str:
    target = stored.filter(pl.col(s.RULE) == "unshipped_timeout").sort(s.FINDING_ID)
    finding = target.item(0, s.FINDING_ID)
    flow.invoke("ack", "ack", finding, "--note", "buyer agreed to wait")
    return finding


def test_ack_then_findings_lists_it_as_acknowledged(flow: Flow, acked: str) -> None:
    assert flow["ack"].exit_code == 0, _ok(flow["ack"])
    result = flow.invoke(
        "findings acked", "findings", "--state", "acknowledged", "--format", "json"
    )
    assert result.exit_code == 0, _ok(result)
    rows = json.loads(result.stdout)
    assert [r[s.FINDING_ID] for r in rows] == [acked]
    assert rows[0][s.ACK_NOTE] == "buyer agreed to wait"


def test_ack_of_an_unknown_id_is_exit_2(flow: Flow) -> None:
    before = _store_frames(flow.config)[0]
    result = flow.invoke("ack unknown", "ack", "unknown-id", "--note", "x")
    assert result.exit_code == 2, _ok(result)
    assert "unknown-id" in result.stderr
    assert before.equals(_store_frames(flow.config)[0])


# --- audit ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audited(flow: Flow, acked: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        return flow.invoke("audit", "audit", "--as-of", flow.as_of, "--fail-on", "critical")


def test_audit_fails_on_critical_and_writes_the_configured_workbook(flow: Flow, audited) -> None:
    assert audited.exception is None or isinstance(audited.exception, SystemExit), _ok(audited)
    assert audited.exit_code == 1, _ok(audited)
    workbook = flow.world.root / AUDIT_XLSX
    assert workbook.is_file()
    openpyxl.load_workbook(workbook, read_only=True).close()
    assert (flow.world.root / AUDIT_CORRECTIONS / "intercept_list.csv").is_file()


def test_audit_keeps_the_acknowledged_finding(flow: Flow, acked: str, audited) -> None:
    findings = Store.for_config(load_config(flow.config)).findings().collect()
    assert findings.filter(pl.col(s.FINDING_ID) == acked).item(0, s.STATE) == "acknowledged"


def test_the_secret_never_leaves_the_environment(flow: Flow, audited) -> None:
    for name, result in flow.outcomes.items():
        assert SECRET not in result.stdout, f"secret on stdout of {name}"
        assert SECRET not in result.stderr, f"secret on stderr of {name}"
    leaked = [
        str(path.relative_to(flow.world.root))
        for path in flow.world.root.rglob("*")
        if path.is_file() and SECRET.encode() in path.read_bytes()
    ]
    assert leaked == []
    # the files that were searched: the store, both workbooks, the corrections, the outputs
    assert (flow.world.root / "ordersync-data").is_dir()
    assert (flow.world.root / AUDIT_XLSX).is_file()


# --- a bad export ---------------------------------------------------------------------------


def test_a_bad_export_is_exit_2_naming_the_cell_and_leaves_the_store_unchanged(
    flow: Flow, audited, tmp_path: Path
) -> None:
    root = tmp_path / "world"
    shutil.copytree(flow.world.root, root)
    config = root / flow.config.name
    oms_csv = next((root / "oms").glob("*.csv"))
    with oms_csv.open(encoding="utf-8-sig", newline="") as handle:
        header, first = list(csv.reader(handle))[:2]
    bad = list(first)
    bad[header.index("原始单号")] = "3999999999999999999"
    bad[header.index("实付金额")] = "about 30 yuan"
    bad_file = root / "oms" / "oms_orders_late.csv"
    with bad_file.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, first, bad])
    before = _store_frames(config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        result = CliRunner().invoke(app, ["--config", str(config), "pull"])
    assert result.exit_code == 2, _ok(result)
    message = result.stderr
    assert "oms_orders_late.csv" in message
    assert "row 3" in message  # the header is row 1, the good row 2
    assert "实付金额" in message and "about 30 yuan" in message
    assert "Traceback" not in result.output
    findings, orders, pulls = _store_frames(config)
    assert findings.equals(before[0])
    assert orders.equals(before[1])
    # Each source's pull commits on its own: the sources before `oms` logged "no new files";
    # nothing of `oms` (nor of the sources after it) was logged.
    added = pulls.join(before[2], on="pull_id", how="anti")
    assert "oms" not in set(added["source"])
    assert added["new"].sum() == 0 and added["changed"].sum() == 0


# --- demo -----------------------------------------------------------------------------------


def test_demo_runs_the_whole_job(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(target), "--orders", "600", "--lang", "en"])
    assert result.exit_code == 0, _ok(result)
    workbook = target / "report" / "ordersync-report-en.xlsx"
    assert workbook.is_file()
    assert str(workbook) in result.stdout.replace("\n", "")
    assert (target / "report" / "corrections" / "intercept_list.csv").is_file()
