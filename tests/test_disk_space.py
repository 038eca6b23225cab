"""core.disk_space: space checked up front, a full disk explained with folder and figures."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple

import numpy as np
import pytest
import soundfile as sf

from core import disk_space
from core.audio.samples import write_wav
from core.disk_space import DiskSpaceError, SpaceNeed, check_space, human_bytes, writing_to

Usage = namedtuple("Usage", "total used free")


def _free(monkeypatch, free: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 10**12 - free, free))


def test_human_bytes():
    assert human_bytes(3_400_000) == "3.4 MB"
    assert human_bytes(2_500_000_000) == "2.5 GB"
    assert human_bytes(999) == "999 bytes"


def test_figures_never_contradict_each_other(monkeypatch, tmp_path):
    _free(monkeypatch, 3_010_000)
    with pytest.raises(DiskSpaceError) as err:
        check_space([SpaceNeed(tmp_path, 2_760_000, "the output")])  # x1.1 = 3.036 MB
    msg = str(err.value)
    assert str(tmp_path) in msg and "the output" in msg
    assert "3,036,000 bytes is needed, 3,010,000 bytes is free" in msg
    assert not msg.startswith("[Errno")


def test_needs_on_one_disk_add_up(monkeypatch, tmp_path):
    (tmp_path / "a").mkdir()
    _free(monkeypatch, 100_000_000)
    check_space([SpaceNeed(tmp_path / "a", 60_000_000, "the cache")])  # alone it fits
    with pytest.raises(DiskSpaceError, match="the cache in .* and the output in"):
        check_space(
            [
                SpaceNeed(tmp_path / "a", 60_000_000, "the cache"),
                SpaceNeed(tmp_path / "not-made-yet" / "b", 40_000_000, "the output"),
            ]
        )


def test_a_failed_write_on_a_full_disk_says_where(monkeypatch, tmp_path):
    _free(monkeypatch, 0)

    def full(*args, **kwargs):
        raise sf.LibsndfileError(2, "System error.")  # what libsndfile says on ENOSPC

    monkeypatch.setattr(sf, "write", full)
    with pytest.raises(DiskSpaceError) as err:
        with writing_to(tmp_path, "the rendered lines"):
            write_wav(tmp_path / "take.wav", np.zeros(100, np.float32), 22050)
    assert err.value.errno == errno.ENOSPC
    assert f"could not write the rendered lines in {tmp_path}: the disk is full" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no half-written temp file left


def test_other_write_errors_are_not_called_a_full_disk(monkeypatch, tmp_path):
    _free(monkeypatch, 50 * disk_space.NEARLY_FULL)

    def broken(*args, **kwargs):
        raise sf.LibsndfileError(2, "System error.")

    monkeypatch.setattr(sf, "write", broken)
    with pytest.raises(sf.LibsndfileError):
        with writing_to(tmp_path, "the mix"):
            write_wav(tmp_path / "mix.wav", np.zeros(100, np.float32), 48000)
    with pytest.raises(PermissionError):
        with writing_to(tmp_path, "the mix"):
            raise PermissionError(errno.EACCES, "denied")
