"""An independent loudness meter for the delivery tests: ffmpeg's ebur128 filter."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def ffmpeg_loudness(path: Path) -> dict[str, float]:
    """Integrated loudness (I, LUFS), loudness range (LRA, LU) and true peak (TP, dBTP)."""
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-nostdin", "-i", str(path),
         "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = proc.stderr[proc.stderr.rfind("Summary:") :]

    def value(label: str) -> float:
        m = re.search(rf"{label}:\s+(-?[\d.]+|-inf)", summary)
        assert m, f"no {label} in ffmpeg's summary:\n{summary}"
        return float(m.group(1))

    # The true-peak section's "Peak:" follows "True peak:".
    tp = summary[summary.find("True peak:") :]
    m = re.search(r"Peak:\s+(-?[\d.]+|-inf)", tp)
    assert m, summary
    return {"I": value("I"), "LRA": value("LRA"), "TP": float(m.group(1))}
