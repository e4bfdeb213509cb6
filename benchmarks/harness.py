"""Run one benchmark case in a fresh subprocess and measure it.

The child (``python -m benchmarks.child``) times only the operation under test with
``time.perf_counter`` and reports its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``). The
parent also polls the child's process tree with psutil and keeps the larger of the two peaks,
so memory held by any grandchild is counted too. Interpreter start-up and imports are not in
the wall time; they are in the peak RSS (about 150-250 MB of libraries), as they would be for a
user.

A case may have a *prepare* step (restore a store snapshot, write a changed export, pull); it
runs in its own subprocess before each measured run, so neither its time nor its memory leaks
into the measurement.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.05


class CaseFailed(RuntimeError):
    pass


@dataclass
class Run:
    seconds: float
    peak_rss: int
    extra: dict = field(default_factory=dict)


@dataclass
class Measurement:
    case: str
    params: dict
    runs: list[Run] = field(default_factory=list)
    error: str | None = None
    measured_at: str = ""

    @property
    def seconds(self) -> float | None:
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    @property
    def peak_rss(self) -> int | None:
        # Memory: the worst run, not the median: a limit is about the worst case.
        return max(r.peak_rss for r in self.runs) if self.runs else None

    @property
    def extra(self) -> dict:
        return self.runs[-1].extra if self.runs else {}

    def to_dict(self) -> dict:
        return {
            "case": self.case,
            "params": self.params,
            "seconds": self.seconds,
            "peak_rss": self.peak_rss,
            "runs": [asdict(r) for r in self.runs],
            "extra": self.extra,
            "error": self.error,
            "measured_at": self.measured_at,
        }


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_child(
    case: str, params: dict, *, timeout: float, log=None, python: str | None = None
) -> Run:
    """Run ``case`` once in a fresh interpreter (``python``, else this one); return its time
    and peak memory."""
    with tempfile.TemporaryDirectory(prefix="ordersync-bench-") as tmp:
        out = Path(tmp) / "result.json"
        interpreter = python or sys.executable
        cmd = [interpreter, "-m", "benchmarks.child", case, json.dumps(params), str(out)]
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}"}
        stderr_path = Path(tmp) / "stderr.txt"
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=stderr, stderr=stderr)
            ps = psutil.Process(proc.pid)
            peak = 0
            started = time.monotonic()
            while proc.poll() is None:
                peak = max(peak, _tree_rss(ps))
                if time.monotonic() - started > timeout:
                    proc.kill()
                    proc.wait()
                    raise CaseFailed(f"timed out after {timeout:.0f} s")
                time.sleep(POLL_SECONDS)
        if proc.returncode != 0 or not out.exists():
            tail = stderr_path.read_text(errors="replace").strip().splitlines()[-15:]
            raise CaseFailed(f"exit {proc.returncode}: " + " | ".join(tail))
        result = json.loads(out.read_text())
        if log and stderr_path.stat().st_size:
            log(stderr_path.read_text(errors="replace").rstrip())
    extra = result.get("extra", {})
    # The machine may be shared: record how busy it was when the run ended.
    extra["load1"] = round(os.getloadavg()[0], 1)
    return Run(seconds=result["seconds"], peak_rss=max(peak, int(result["maxrss"])), extra=extra)


def code_as_of() -> str:
    """git HEAD plus the newest source file's time: the package changes while it is measured."""
    newest = max((p.stat().st_mtime for p in (REPO / "src").rglob("*.py")), default=0)
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        head = "?"
    return f"{head}, newest file {time.strftime('%Y-%m-%d %H:%M', time.gmtime(newest))} UTC"


def measure(
    case: str,
    params: dict,
    *,
    repeat: int,
    timeout: float,
    prepare: str | None = None,
    log=print,
    python: str | None = None,
) -> Measurement:
    """The median of ``repeat`` fresh-process runs of ``case`` (a prepare step before each),
    in ``python`` if given."""
    m = Measurement(case=case, params=params, measured_at=time.strftime("%Y-%m-%d %H:%M"))
    m.params = {**params, "code_as_of": code_as_of()}
    for i in range(repeat):
        try:
            if prepare:
                run_child(prepare, params, timeout=timeout)
            run = run_child(case, params, timeout=timeout, python=python)
        except CaseFailed as exc:
            m.error = str(exc)
            log(f"  {case} run {i + 1}/{repeat}: FAILED {exc}")
            break
        m.runs.append(run)
        log(
            f"  {case} run {i + 1}/{repeat}: {run.seconds:.2f} s, peak {run.peak_rss / 2**20:.0f} MiB"
        )
    return m
