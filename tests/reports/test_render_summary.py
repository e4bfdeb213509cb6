from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "render_summary.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_summary", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_tools_say_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = _script()
    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install libreoffice-calc poppler-utils"):
        module.render(tmp_path / "x.xlsx", tmp_path / "x.png")
