"""Keep every measurement in a JSON file in the work dir and render RESULTS.md from it.

Measurements accumulate across invocations (a 10M run can be added to an earlier 1M run); a
re-measured case replaces the old entry.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path

GB = 1_000_000_000
SCALE_ORDER = ("100k", "1m", "10m")


def load(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"measurements": {}, "notes": {}}


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def machine(datacompy_python: Path | None = None) -> dict:
    """The machine and the libraries' versions; datacompy's from the interpreter of its own
    venv (it needs an older Polars than ordersync), when there is one."""
    import psutil

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for mod in ("polars", "duckdb", "deltalake", "fastexcel", "xlsxwriter"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "not installed"
    versions["datacompy"] = "not installed"
    if datacompy_python is not None and datacompy_python.exists():
        found = subprocess.run(
            [str(datacompy_python), "-c",
             "import datacompy, polars; print(datacompy.__version__, polars.__version__)"],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        if len(found) == 2:
            versions["datacompy"] = f"{found[0]} (in its own venv, with Polars {found[1]})"
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
    }


# --- rendering -----------------------------------------------------------------------------


def _timed_out(m: dict | None) -> float | None:
    """The time limit a case ran into (a lower bound of its time), if it did."""
    err = (m or {}).get("error") or ""
    match = re.match(r"timed out after (\d+)", err)
    return float(match.group(1)) if match else None


def _num(sec: float) -> str:
    return f"{sec:.3g}" if sec < 100 else f"{sec:.0f}"


def _s(m: dict | None) -> str:
    if not m:
        return "not measured yet"
    if _timed_out(m):
        return f"> {_timed_out(m):.0f} s (stopped)"
    if m.get("error"):
        error = m["error"].strip().rstrip(":")
        if error == "exit -9":
            # SIGKILL: on this machine, the kernel's out-of-memory killer.
            error = "killed (exit -9: out of memory)"
        return "failed: " + error[:160].replace("|", "/")
    sec = m["seconds"]
    return f"{sec:.3g} s" if sec < 100 else f"{sec:.0f} s"


def _mem(m: dict | None) -> str:
    if not m or m.get("error") or m.get("peak_rss") is None:
        return "—"
    return f"{m['peak_rss'] / GB:.2f} GB"


def _ok(m: dict | None) -> bool:
    return bool(m) and not m.get("error") and m.get("seconds") is not None


def _met(value: bool | None) -> str:
    if value is None:
        return "not measured yet"
    return "met" if value else "**not met**"


def _rows(m: dict | None) -> str:
    if not _ok(m):
        return ""
    rows = m.get("extra", {}).get("rows")
    return f"{rows:,}" if isinstance(rows, int) else ""


def _throughput(m: dict | None) -> str:
    if not _ok(m):
        return "—"
    rows = m.get("extra", {}).get("rows")
    if not rows or not m["seconds"]:
        return "—"
    return f"{rows / m['seconds'] / 1000:,.0f}k rows/s"


class Table:
    def __init__(self, header: list[str]):
        self.lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def add(self, *cells: str) -> None:
        self.lines.append("| " + " | ".join(cells) + " |")

    def text(self) -> str:
        return "\n".join(self.lines)


class LowerBound(float):
    """A ratio known only from below (ours hit the time limit)."""


def _ratio(ours: dict | None, floor: dict | None) -> float | None:
    if _ok(floor) and floor["seconds"] > 0:
        if _ok(ours):
            return ours["seconds"] / floor["seconds"]
        if _timed_out(ours):
            return LowerBound(_timed_out(ours) / floor["seconds"])
    return None


def _verdict(r: float | None, limit: float) -> bool | None:
    """ratio ≤ limit? None when unknown (not measured, or only a lower bound under the limit)."""
    if r is None:
        return None
    if isinstance(r, LowerBound):
        return False if r > limit else None
    return r <= limit


def _fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"> {r:,.0f}x" if isinstance(r, LowerBound) else f"{r:,.2f}x"


def render(data: dict, scales: list[str]) -> str:
    ms = data["measurements"]
    # The reconcile and scaling tables compare the 10x steps; larger worlds have their own.
    steps = [s for s in scales if s in SCALE_ORDER]
    mach = data.get("machine") or machine()
    v = mach["versions"]
    out = [
        "# ordersync benchmark results",
        "",
        "Produced by `python -m benchmarks` (see benchmarks/README.md); do not edit by hand.",
        "Each number is the median wall time of the runs listed, each run in a fresh",
        "subprocess; peak RSS is the worst run's (the process tree's resident set, including",
        "the ~0.2 GB of imported libraries). Ratio = ours / floor (time).",
        "",
        "## Machine",
        "",
        f"- CPU: {mach['cpu']}, {mach['cores']} cores; memory {mach['memory_gib']} GiB; {mach['os']}",
        f"- Python {v.get('python')}, Polars {v.get('polars')}, DuckDB {v.get('duckdb')}, "
        f"deltalake {v.get('deltalake')}, fastexcel {v.get('fastexcel')}, "
        f"xlsxwriter {v.get('xlsxwriter')}, datacompy {v.get('datacompy')}",
        f"- Rendered: {time.strftime('%Y-%m-%d %H:%M %Z')}; measurements dated per case below.",
        "",
    ]

    # --- ingest
    out += ["## Ingest: one source's export through `pull` vs the bare reader", ""]
    t = Table(
        [
            "case",
            "rows",
            "ours",
            "ours peak",
            "floor",
            "floor time",
            "floor peak",
            "ratio",
            "target",
            "status",
        ]
    )
    for fmt, floor_name, limit, target in (
        ("xlsx", "fastexcel", 1.25, "≥ 0.8x fastexcel throughput (ratio ≤ 1.25x)"),
        ("csv", "scan_csv", 1.5, "≤ 1.5x scan_csv().collect()"),
        ("parquet", "scan_parquet", 1.5, "≤ 1.5x scan_parquet().collect()"),
    ):
        ours = ms.get(f"ingest/{fmt}/ours")
        floor = ms.get(f"ingest/{fmt}/{floor_name}")
        r = _ratio(ours, floor)
        t.add(
            f"{fmt} ({_throughput(ours)} vs {_throughput(floor)})",
            _rows(ours) or _rows(floor),
            _s(ours),
            _mem(ours),
            floor_name,
            _s(floor),
            _mem(floor),
            _fmt_ratio(r),
            target,
            _met(_verdict(r, limit)),
        )
    out += [t.text(), ""]

    # --- reconcile
    out += [
        "## Reconcile: the full rule set, 4 sources (channel, OMS, warehouse, courier)",
        "",
        "Floors: `polars` = a bare lazy full join of the channel, OMS and warehouse exports on",
        "a u64 hash of order_id (string id carried and compared), the courier joined on the",
        "tracking number, one status comparison (channel vs OMS), mismatching rows collected;",
        "`duckdb` = the same query in DuckDB SQL; `datacompy` = datacompy's Polars backend",
        "comparing channel vs OMS (order_id + status). The floors read the world's parquet",
        "exports; ordersync reconciles from its store (pulled beforehand, not timed). The",
        "floors bound the cost of the join; they do not produce findings (their row counts,",
        "in the last table's notes, are what their one comparison flags).",
        "",
    ]
    t = Table(
        [
            "scale",
            "ours",
            "ours peak",
            "polars",
            "polars peak",
            "duckdb",
            "duckdb peak",
            "datacompy",
            "ours/polars",
            "ours/duckdb",
            "target",
            "status",
        ]
    )
    for scale in steps:
        ours = ms.get(f"reconcile/{scale}/ours")
        pol = ms.get(f"reconcile/{scale}/polars")
        duck = ms.get(f"reconcile/{scale}/duckdb")
        dc = ms.get(f"reconcile/{scale}/datacompy")
        rp, rd = _ratio(ours, pol), _ratio(ours, duck)
        verdicts = [_verdict(rp, 2), _verdict(rd, 1)]
        target = "≤ 2x polars, ≤ duckdb"
        if scale == "10m":
            target += ", peak < 4 GB"
            verdicts.append(None if not _ok(ours) else ours["peak_rss"] < 4 * GB)
        if any(x is None for x in verdicts):
            status = (
                "not measured yet"
                if all(x is None for x in verdicts)
                else ("partly measured; " + ("**not met**" if False in verdicts else "met so far"))
            )
        else:
            status = _met(all(verdicts))
        t.add(
            scale,
            _s(ours),
            _mem(ours),
            _s(pol),
            _mem(pol),
            _s(duck),
            _mem(duck),
            _s(dc),
            _fmt_ratio(rp),
            _fmt_ratio(rd),
            target,
            status,
        )
    out += [t.text(), ""]

    # --- large worlds
    out += [
        "## Large worlds: 50M and 100M orders per source (reconcile)",
        "",
        "Set up as the others, pulled in rounds of 10M rows per source; reconciled once, on",
        "the pulled store itself (a copy per run does not fit beside it on this disk).",
        "",
    ]
    t = Table(["scale", "ours", "ours peak", "polars", "duckdb", "target", "status"])
    for scale, limit, target in (("50m", 600, "< 10 min"), ("100m", None, "completes")):
        ours = ms.get(f"reconcile/{scale}/ours")
        done = _ok(ours) if ours else None
        verdict = done if limit is None or not done else ours["seconds"] < limit
        t.add(
            scale,
            _s(ours),
            _mem(ours),
            _s(ms.get(f"reconcile/{scale}/polars")),
            _s(ms.get(f"reconcile/{scale}/duckdb")),
            target,
            _met(verdict),
        )
    out += [t.text(), ""]

    # --- scaling
    out += ["## Scaling: 100k → 1M → 10M orders (reconcile)", ""]
    t = Table(["case", *steps, "step ratios", "target", "status"])
    for who in ("ours", "polars", "duckdb"):
        vals = [ms.get(f"reconcile/{s}/{who}") for s in steps]
        ratios: list[float | None] = []
        for a, b in itertools.pairwise(vals):
            ratios.append(_ratio(b, a))
        if any(r is not None and r > 11 for r in ratios):
            status = _met(False)
        elif ratios and all(r is not None and not isinstance(r, LowerBound) for r in ratios):
            status = _met(True)
        else:
            status = "not measured yet"
        t.add(
            who,
            *[_s(x) for x in vals],
            ", ".join(_fmt_ratio(r) for r in ratios) or "—",
            "each step ≤ 11x" if who == "ours" else "(reference)",
            status if who == "ours" else "",
        )
    out += [t.text(), ""]

    # --- incremental
    out += [
        "## Incremental: re-evaluating changed orders (the target is on a 10M-order store)",
        "",
        "A new export file modifies N orders of the channel source; it is pulled (not timed),",
        "then `reconcile(..., incremental=True)` is timed.",
        "",
    ]
    t = Table(["changed orders", "store", "reconcile", "peak", "target", "status"])
    cases = (
        (1000, "1,000"),
        (10000, "10,000"),
        ("1000-watch-10min", "1,000, judged 10 min after the last run (a watch cycle)"),
    )
    for key, name in cases:
        m = None
        store = ""
        for scale in reversed(SCALE_ORDER):
            m = ms.get(f"incremental/{scale}/{key}")
            if m:
                store = scale
                break
        target = "< 1 s" if key == 1000 else "(reported)"
        met = None if not _ok(m) else (m["seconds"] < 1 if key == 1000 else True)
        t.add(
            name,
            store or "—",
            _s(m),
            _mem(m),
            target,
            _met(met) if key == 1000 else ("measured" if _ok(m) else _s(m)),
        )
    out += [t.text(), ""]

    # --- report
    out += ["## Report: a workbook of 1M findings", ""]
    t = Table(
        [
            "case",
            "rows",
            "ours",
            "ours peak",
            "xlsxwriter constant_memory",
            "floor peak",
            "ratio",
            "target",
            "status",
        ]
    )
    ours, floor = ms.get("report/ours"), ms.get("report/xlsxwriter")
    r = _ratio(ours, floor)
    verdict = None
    if r is not None:
        verdict = _verdict(r, 1.2)
        if _ok(ours) and ours["peak_rss"] >= 2 * GB:
            verdict = False
    how = (ours or {}).get("extra", {}).get("via", "")
    t.add(
        f"1M findings {('(' + how + ')') if how else ''}",
        _rows(ours) or _rows(floor),
        _s(ours),
        _mem(ours),
        _s(floor),
        _mem(floor),
        _fmt_ratio(r),
        "≤ 1.2x xlsxwriter, peak < 2 GB",
        _met(verdict),
    )
    out += [t.text(), ""]

    # --- raw
    out += [
        "## Every measurement",
        "",
        "| id | runs (s) | peak | measured (UTC) | load avg at end | code | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in sorted(ms):
        m = ms[key]
        runs = ", ".join(_num(r["seconds"]) for r in m.get("runs", [])) or "—"
        extra = {k: v for k, v in (m.get("extra") or {}).items() if k not in ("load1", "stats")}
        loads = ", ".join(
            str(r["extra"]["load1"]) for r in m.get("runs", []) if "load1" in r.get("extra", {})
        )
        note = m.get("error") or (json.dumps(extra, ensure_ascii=False) if extra else "")
        code = (m.get("params") or {}).get("code_as_of", "")
        out.append(
            f"| {key} | {runs} | {_mem(m)} | {m.get('measured_at', '')} | {loads or '—'} | "
            f"{code} | {note[:200].replace('|', '/')} |"
        )
    notes = data.get("notes") or {}
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- **{k}**: {v}" for k, v in sorted(notes.items())]
    return "\n".join(out) + "\n"
