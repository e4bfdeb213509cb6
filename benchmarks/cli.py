"""``python -m benchmarks``: generate (or reuse) worlds, measure each case, write RESULTS.md."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from benchmarks import results
from benchmarks.cases import CHANGES_PREFIX
from benchmarks.harness import REPO, CaseFailed, Measurement, measure, run_child
from benchmarks.layout import load_layout

GROUPS = ("ingest", "reconcile", "incremental", "report", "scaling")
DEFAULT_WORK = Path(os.environ.get("ORDERSYNC_BENCH_WORK", "/tmp/ordersync-bench"))
GEN_TIMEOUT = 6 * 3600
# Stores of larger worlds are reconciled in place, once (Bench.run_in_place).
LARGEST_COPIED = 10_000_000
# What a set-up pull writes, beyond the world's rows; a cached store of another version is
# pulled again. 2: each orders version carries its change fingerprint (3414005); a store
# pulled before has none, and its reconciles compute them as before.
STORE_SETUP = 2
# The datacompy floor's venv (Bench.datacompy_python).
DATACOMPY = "datacompy>=0.13"


def parse_scale(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([km]?)", text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(f"bad scale {text!r}; expected e.g. 100k, 1m, 10m")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2)])


def label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work).resolve()
        if REPO in self.work.parents or self.work == REPO:
            raise SystemExit(f"--work {self.work} is inside the repository; use a scratch dir")
        self.work.mkdir(parents=True, exist_ok=True)
        self.results_path = self.work / "results.json"
        self.datacompy_venv = self.work / "venv-datacompy"
        self.data = results.load(self.results_path)
        self.data["machine"] = results.machine(self.datacompy_venv / "bin" / "python")
        self.scales = [parse_scale(s) for s in args.scales.split(",") if s]
        self.measured_now: set[str] = set()  # the cases this invocation measured

    # --- bookkeeping ------------------------------------------------------------------------

    def save(self, key: str, m: Measurement) -> None:
        self._update(lambda data: data["measurements"].__setitem__(key, m.to_dict()))
        self.measured_now.add(key)
        self.render()

    def note(self, key: str, text: str) -> None:
        self._update(lambda data: data.setdefault("notes", {}).__setitem__(key, text))

    def _update(self, change) -> None:
        """Re-read results.json under a lock and apply one change, so that two invocations
        running side by side (e.g. the floors and a long ours case) do not lose entries."""
        with open(self.work / ".results.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = results.load(self.results_path)
            data["machine"] = self.data["machine"]
            change(data)
            results.save(self.results_path, data)
            self.data = data

    def render(self) -> None:
        labels = [label(n) for n in sorted(set(self.scales) | {100_000, 1_000_000, 10_000_000})]
        Path(self.args.out).write_text(results.render(self.data, labels))

    def run(
        self,
        key: str,
        case: str,
        params: dict,
        prepare: str | None = None,
        python: str | None = None,
    ) -> Measurement:
        log(f"{key}: {case} x{self.args.repeat}")
        m = measure(
            case,
            params,
            repeat=self.args.repeat,
            timeout=self.args.timeout,
            prepare=prepare,
            log=lambda s: log(s),
            python=python,
        )
        self.save(key, m)
        return m

    # --- worlds and stores ------------------------------------------------------------------

    def _ready(self, directory: Path, marker_name: str, params: dict) -> bool:
        marker = directory / marker_name
        return marker.exists() and json.loads(marker.read_text()) == params

    def world(self, orders: int, formats: str) -> Path:
        d = self.work / "worlds" / f"{formats}-{label(orders)}-s{self.args.seed}"
        params = {"orders": orders, "formats": formats, "seed": self.args.seed}
        if self._ready(d, ".bench-world.json", params):
            return d
        log(f"generating world {d.name} (once; reused by later runs)")
        t0 = time.monotonic()
        run = run_child("generate", {**params, "dir": str(d)}, timeout=GEN_TIMEOUT, log=log)
        if run.extra.get("as_of"):
            (d / ".bench-as-of").write_text(run.extra["as_of"])
        (d / ".bench-world.json").write_text(json.dumps(params))
        self.note(f"generate {d.name}", f"{time.monotonic() - t0:.0f} s")
        return d

    def xlsx_world(self, rows: int) -> Path:
        d = self.work / "worlds" / f"xlsx-{label(rows)}-s{self.args.seed}"
        params = {"rows": rows, "seed": self.args.seed}
        if self._ready(d, ".bench-world.json", params):
            return d
        log(f"generating xlsx export {d.name}")
        t0 = time.monotonic()
        run_child("generate_xlsx", {**params, "dir": str(d)}, timeout=GEN_TIMEOUT, log=log)
        (d / ".bench-world.json").write_text(json.dumps(params))
        self.note(f"generate {d.name}", f"{time.monotonic() - t0:.0f} s")
        return d

    def pulled_store(
        self, world: Path, name: str, *, reconciled: bool = False, like: Path | None = None
    ) -> Path:
        """A store with the whole world pulled (and reconciled once, if asked); cached.

        `like`: a pulled store of the same world's files (a mirror's original), copied instead
        of pulling again (a 10M world takes ~10 minutes to pull; its files are then skipped by
        content hash)."""
        d = self.work / "stores" / name
        marker = {"world": str(world), "world_mtime": (world / ".bench-world.json").stat().st_mtime,
                  "reconciled": reconciled, "pulled": "before as_of", "setup": STORE_SETUP,
                  # The change fingerprints a pull stores are comparable within one Polars.
                  "polars": pl.__version__}  # fmt: skip
        if self._ready(d, ".bench-store.json", marker):
            return d / "store"
        if d.exists():
            shutil.rmtree(d)
        t0 = time.monotonic()
        if like is not None:
            log(f"copying {like} into {d} (set-up, not timed)")
            run_child("copy_store", {"snapshot": str(like), "store": str(d / "store")},
                      timeout=GEN_TIMEOUT, log=log)  # fmt: skip
        log(f"pulling {world.name} into {d} (set-up, not timed)")
        run_child("pull_store", {"world": str(world), "store": str(d / "store"), "fresh": like is None,
                                 "as_of": self.as_of(world)},
                  timeout=GEN_TIMEOUT, log=log)  # fmt: skip
        self.note(f"set-up pull {name}", f"{time.monotonic() - t0:.0f} s")
        if reconciled:
            run_child("reconcile_store",
                      {"world": str(world), "store": str(d / "store"), "as_of": self.as_of(world)},
                      timeout=GEN_TIMEOUT, log=log)  # fmt: skip
        (d / ".bench-store.json").write_text(json.dumps(marker))
        return d / "store"

    def as_of(self, world: Path) -> str | None:
        """The world's own judging moment (generate_world's World.as_of), unless overridden."""
        if self.args.as_of:
            return self.args.as_of
        marker = world / ".bench-as-of"
        return marker.read_text().strip() if marker.exists() else None

    def mirror(self, world: Path, name: str) -> Path:
        """A symlinked copy of ``world`` that incremental runs may add export files to."""
        d = self.work / "mirrors" / name
        marker = {"world": str(world), "world_mtime": (world / ".bench-world.json").stat().st_mtime}
        if self._ready(d, ".bench-mirror.json", marker):
            return d
        if d.exists():
            shutil.rmtree(d)
        d.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-rs", str(world), str(d)], check=True)
        for f in list(d.rglob("*.yaml")) + list(d.rglob("*.json")):
            # Configs and manifests are copied, not linked, so edits stay local.
            if f.is_symlink():
                target = f.resolve()
                f.unlink()
                shutil.copy2(target, f)
        for name in (".bench-world.json", ".bench-as-of"):
            (d / name).unlink(missing_ok=True)
            if (world / name).exists():
                shutil.copy2(world / name, d / name)
        (d / ".bench-mirror.json").write_text(json.dumps(marker))
        return d

    # --- groups -----------------------------------------------------------------------------

    def ingest(self) -> None:
        from benchmarks.layout import load_layout, pick

        xlsx_rows = self.args.xlsx_rows
        try:
            xw = self.xlsx_world(xlsx_rows)
        except CaseFailed as exc:
            log(f"xlsx ingest skipped: {exc}")
            self.note("ingest/xlsx", f"not measured: {exc}"[:300])
            xw = None
        if xw is not None:
            source = pick(load_layout(xw), "channel")
            p = {"world": str(xw), "source": source.name, "store": str(self.work / "tmp-store")}
            self.run("ingest/xlsx/ours", "ours_ingest", p, prepare="clean_store")
            self.run("ingest/xlsx/fastexcel", "floor_fastexcel", p)
        n = max(self.scales)
        for fmt, floor in (("csv", "floor_scan_csv"), ("parquet", "floor_scan_parquet")):
            w = self.world(n, fmt)
            source = pick(load_layout(w), "channel")
            p = {"world": str(w), "source": source.name, "store": str(self.work / "tmp-store")}
            self.run(f"ingest/{fmt}/ours", "ours_ingest", p, prepare="clean_store")
            self.run(f"ingest/{fmt}/{floor.removeprefix('floor_')}", floor, p)

    def reconcile(self, scales: list[int], variants: tuple[str, ...]) -> None:
        for n in scales:
            w = self.world(n, "parquet")
            tag = label(n)
            if "ours" in variants:
                try:
                    base = self.pulled_store(w, f"parquet-{tag}")
                except CaseFailed as exc:
                    log(f"reconcile/{tag}/ours: set-up failed: {exc}")
                    self.save(f"reconcile/{tag}/ours",
                              Measurement("ours_reconcile", {}, error=f"set-up pull: {exc}"))  # fmt: skip
                    base = None
                if base is not None and n > LARGEST_COPIED:
                    if self.args.drop_exports:
                        drop_exports(w)
                    self.run_in_place(f"reconcile/{tag}/ours", w, base)
                    if self.args.drop_exports:
                        # Only its config was left: the next run generates it again.
                        shutil.rmtree(w)
                        continue
                elif base is not None:
                    p = {"world": str(w), "snapshot": str(base), "as_of": self.as_of(w),
                         "store": str(self.work / f"run-store-{tag}")}  # fmt: skip
                    self.run(f"reconcile/{tag}/ours", "ours_reconcile", p, prepare="copy_store")
            p = {"world": str(w)}
            if "polars" in variants:
                self.run(f"reconcile/{tag}/polars", "floor_polars",
                         {**p, "engine": self.args.polars_engine})  # fmt: skip
            if "duckdb" in variants:
                self.run(f"reconcile/{tag}/duckdb", "floor_duckdb", p)
            if "datacompy" in variants and n <= self.args.datacompy_max:
                layout = [source.to_dict() for source in load_layout(w)]
                self.run(f"reconcile/{tag}/datacompy", "floor_datacompy",
                         {**p, "layout": layout}, python=self.datacompy_python())  # fmt: skip

    def datacompy_python(self) -> str:
        """The interpreter of a venv of datacompy's own, made once under the work dir.
        datacompy requires polars < 1.45 and ordersync polars 2, so the datacompy floor runs
        with the Polars datacompy installs; that venv's versions go into the machine facts."""
        venv = self.datacompy_venv
        python = venv / "bin" / "python"
        # Marked once the install succeeded: a venv left half-made is made again.
        installed = venv / ".ordersync-bench-installed"
        if not installed.exists():
            log(f"making {venv} for the datacompy floor (once)")
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", DATACOMPY], check=True)
            installed.touch()
            self.data["machine"] = results.machine(python)
        return str(python)

    def run_in_place(self, key: str, world: Path, base: Path) -> None:
        """One run on the pulled store itself. Beyond 10M orders a copy of the store per run
        does not fit beside it on this machine's disk (50M: ~23 GB each), and a run takes
        long enough that one is what can be afforded. The run records its findings in the
        store, so the store is marked used and pulled again before the next such run; a run
        that failed saved nothing, and its store is kept (pulling 50M orders again takes
        15-25 minutes)."""
        p = {"world": str(world), "store": str(base), "as_of": self.as_of(world)}
        log(f"{key}: ours_reconcile x1, on the pulled store itself")
        m = measure("ours_reconcile", p, repeat=1, timeout=self.args.timeout, log=log)
        if not m.error:
            (base.parent / ".bench-store.json").unlink(missing_ok=True)
        self.save(key, m)

    def incremental(self) -> None:
        n = max(self.scales)
        w = self.world(n, "parquet")
        m = self.mirror(w, f"parquet-{label(n)}")
        # The last case of an earlier run leaves its changed export in the mirror; pulled into a
        # new base store, it made the next 1,000 changes older than the stored rows, so they
        # were ignored and the case judged nothing (2026-11-26 11:58: 0.62 s, 0 new findings).
        for leftover in m.rglob(f"{CHANGES_PREFIX}*"):
            leftover.unlink()
        plain = self.work / "stores" / f"parquet-{label(n)}" / "store"
        base = self.pulled_store(m, f"inc-parquet-{label(n)}", reconciled=True,
                                 like=plain if plain.is_dir() else None)  # fmt: skip
        as_of = self.as_of(w)
        # The third case is a watch cycle: as_of 10 minutes after the base run's, so the run
        # also judges every order whose timestamps crossed a threshold meanwhile.
        watch = (
            (datetime.fromisoformat(as_of) + timedelta(minutes=10)).isoformat() if as_of else None
        )
        for key, changed, judged_at in ((1000, 1000, as_of), (10000, 10000, as_of),
                                        ("1000-watch-10min", 1000, watch)):  # fmt: skip
            if judged_at is None:
                continue
            p = {"world": str(m), "snapshot": str(base), "store": str(self.work / "run-store-inc"),
                 "as_of": judged_at, "changed": changed, "incremental": True}  # fmt: skip
            self.run(f"incremental/{label(n)}/{key}", "ours_reconcile", p,
                     prepare="incremental_prepare")  # fmt: skip

    def report(self) -> None:
        p = {"rows": self.args.report_rows, "out": str(self.work / "report" / "findings.xlsx")}
        if not (self.args.report_floor_only and Path(p["out"]).exists()):
            self.run("report/ours", "ours_report", p)
        self.run("report/xlsxwriter", "floor_xlsxwriter",
                 {**p, "out": str(self.work / "report" / "bare.xlsx"), "ours_out": p["out"]})  # fmt: skip


def drop_exports(world: Path) -> None:
    """Delete a world's export files, keeping its config and markers. At 100M orders the
    exports (~21 GB), the store (~25 GB) and the reconcile's scratch files (~29 GB) do not fit
    on this machine's disk together, and only the set-up reads the exports."""
    for path in world.rglob("*.parquet"):
        path.unlink()
    log(f"deleted the export files of {world.name} (--drop-exports)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument(
        "--scales", default="100k,1m,10m", help="orders per world (default %(default)s)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the median is kept")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated groups of {', '.join(GROUPS)}")  # fmt: skip
    ap.add_argument("--variants", default="ours,polars,duckdb,datacompy",
                    help="reconcile variants to run (default %(default)s)")  # fmt: skip
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"))
    ap.add_argument("--work", default=str(DEFAULT_WORK), help="scratch dir (default %(default)s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--as-of", default=None, help="override the world's as_of (ISO 8601)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--xlsx-rows", type=int, default=1_000_000)
    ap.add_argument("--report-rows", type=int, default=1_000_000)
    ap.add_argument("--datacompy-max", type=parse_scale, default=10_000_000,
                    help="largest scale datacompy is run at")  # fmt: skip
    ap.add_argument("--polars-engine", default="streaming", choices=("streaming", "in-memory"))
    ap.add_argument("--report-floor-only", action="store_true",
                    help="measure only the report floor, reusing ours' last workbook")  # fmt: skip
    ap.add_argument("--render-only", action="store_true", help="rewrite RESULTS.md and exit")
    ap.add_argument("--drop-exports", action="store_true",
                    help="beyond 10M orders, delete the world's export files once they are pulled "
                         "(with --variants ours: the floors read them)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.drop_exports and args.variants != "ours":
        ap.error("--drop-exports needs --variants ours: the floors read the exports")

    bench = Bench(args)
    only = [g for g in args.only.split(",") if g]
    unknown = set(only) - set(GROUPS)
    if unknown:
        ap.error(f"unknown group(s) {sorted(unknown)}; groups are {', '.join(GROUPS)}")
    variants = tuple(v for v in args.variants.split(",") if v)
    if not args.render_only:
        log(f"python {sys.version.split()[0]}, work dir {bench.work}")
        for group in GROUPS:
            if group not in only:
                continue
            try:
                if group == "reconcile":
                    bench.reconcile([n for n in bench.scales if n >= 1_000_000] or bench.scales,
                                    variants)  # fmt: skip
                elif group == "scaling":
                    # Its steps compare runs of one invocation: a scale measured earlier (on
                    # other code, or the machine in another mood) is measured again.
                    todo = [n for n in bench.scales
                            if f"reconcile/{label(n)}/ours" not in bench.measured_now]  # fmt: skip
                    bench.reconcile(todo, ("ours", "polars", "duckdb"))
                else:
                    getattr(bench, group)()
            except CaseFailed as exc:
                log(f"{group}: set-up failed: {exc}")
                bench.note(f"{group} set-up", str(exc)[:400])
    bench.render()
    log(f"wrote {args.out}")
    return 0
