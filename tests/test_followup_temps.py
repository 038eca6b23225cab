"""Issue 26 item 8 for the WAV writer and the streamed mix: their temp files name their
owner's pid (core/temp_files.py), so the one a killed run leaves is removed at the next."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.temp_files import remove_stale_temps

REPO = Path(__file__).resolve().parents[1]

# The writer dies (as by kill -9) once its temp file is written, before the rename.
WAV_KILLED = """
import os, sys
import numpy as np
import soundfile
from core.audio import samples as audio

real = soundfile.write
def write_then_die(path, *args, **kwargs):
    real(path, *args, **kwargs)
    os._exit(9)
soundfile.write = write_then_die
audio.sf.write = write_then_die
audio.write_wav(sys.argv[1], np.zeros(1600, np.float32), 16000)
"""

MIX_KILLED = """
import os, sys
from pathlib import Path
from core.audio import mix_stream
mix_stream._part(Path(sys.argv[1])).write_bytes(b"RIFF")
os._exit(9)
"""


def _killed(script: str, out: Path) -> list[Path]:
    proc = subprocess.run([sys.executable, "-c", script, str(out)], cwd=REPO)
    assert proc.returncode == 9
    left = [p for p in out.parent.iterdir() if p.name.endswith(".part")]
    assert len(left) == 1 and not out.exists()
    return left


def test_a_killed_wav_writers_temp_is_removed_at_the_next_run(tmp_path):
    out = tmp_path / "line.wav"
    left = _killed(WAV_KILLED, out)
    assert remove_stale_temps(out) == left
    assert list(tmp_path.iterdir()) == []


def test_a_killed_mixs_temp_is_removed_at_the_next_run(tmp_path):
    out = tmp_path / "dub.wav"
    left = _killed(MIX_KILLED, out)
    assert remove_stale_temps(out) == left
    assert list(tmp_path.iterdir()) == []
