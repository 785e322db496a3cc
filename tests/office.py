"""LibreOffice headless, as the tests use it to reopen what the toolkit wrote."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
#: LibreOffice stops silently after ~250 files in one call: convert in batches.
BATCH = 50


def convert(files: list[Path], fmt: str, outdir: Path, profile: Path, timeout: int = 300) -> list[Path]:
    """Convert files with a private profile; returns the converted paths (all must exist)."""
    assert SOFFICE, "LibreOffice (soffice) is not installed"
    outdir.mkdir(parents=True, exist_ok=True)
    results = []
    for start in range(0, len(files), BATCH):
        batch = files[start:start + BATCH]
        subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                        "--convert-to", fmt, "--outdir", str(outdir), *map(str, batch)],
                       check=True, capture_output=True, timeout=timeout)
        ext = fmt.split(":")[0]
        for f in batch:
            out = outdir / f"{f.stem}.{ext}"
            assert out.exists(), f"LibreOffice did not convert {f.name}"
            results.append(out)
    return results
