"""Render the Summary sheet of an ordersync workbook to a PNG, to look at it without Excel.

Usage: python scripts/render_summary.py REPORT.xlsx [OUT.png]

Needs LibreOffice (headless) and poppler's pdftoppm:
    apt-get install libreoffice-calc poppler-utils   (add fonts-noto-cjk for Chinese text)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INSTALL_HINT = (
    "needs LibreOffice and pdftoppm: apt-get install libreoffice-calc poppler-utils "
    "fonts-noto-cjk (on macOS: brew install --cask libreoffice && brew install poppler)"
)
# One page per sheet, so page 1 of the PDF is the whole Summary sheet.
PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'


def render(workbook: Path, out: Path, *, dpi: int = 110) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftoppm = shutil.which("pdftoppm")
    if not soffice or not pdftoppm:
        raise SystemExit(f"render_summary: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        # A private profile: a running or first-start LibreOffice elsewhere must not interfere.
        profile = f"-env:UserInstallation=file://{tmp_dir / 'profile'}"
        subprocess.run(
            [
                soffice,
                profile,
                "--headless",
                "--convert-to",
                PDF_FILTER,
                "--outdir",
                str(tmp_dir),
                str(workbook),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pdf = tmp_dir / (workbook.stem + ".pdf")
        if not pdf.exists():
            raise SystemExit(f"render_summary: LibreOffice made no PDF from {workbook}")
        prefix = tmp_dir / "page"
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                str(dpi),
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(pdf),
                str(prefix),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(prefix.with_suffix(".png")), out)
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    workbook = Path(argv[0])
    if not workbook.exists():
        print(f"render_summary: {workbook} does not exist", file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else workbook.with_suffix(".summary.png")
    print(render(workbook, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
