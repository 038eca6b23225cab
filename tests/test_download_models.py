"""The installer's download step, with the network call replaced at the boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import download_models
from models.layout import locate


def _fake_fetch_file(calls):
    def fetch(repo: str, filename: str, dest: Path) -> Path:
        calls.append((repo, filename))
        p = dest / filename
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"{repo}/{filename}".encode())
        return p

    return fetch


def _fake_fetch_folder(calls):
    def fetch(repo: str, folder: str, dest: Path) -> Path:
        calls.append((repo, folder + "/"))
        d = dest / folder
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
        return d

    return fetch


def test_download_fills_the_official_layout(tmp_path):
    calls: list = []
    written = download_models.download(
        tmp_path,
        fetch_file=_fake_fetch_file(calls),
        fetch_folder=_fake_fetch_folder(calls),
        log=lambda s: None,
    )
    files = locate(tmp_path)
    assert files.missing() == []
    assert files.qwen_emotion.is_dir()
    assert ("amphion/MaskGCT", "semantic_codec/model.safetensors") in calls
    assert files.semantic_codec.read_bytes() == b"amphion/MaskGCT/semantic_codec/model.safetensors"
    assert len(written) == len(download_models.manifest_entries())
    # no staging folders left behind
    assert not list(tmp_path.rglob(".download-*"))


def test_download_skips_present_files_and_optional(tmp_path):
    calls: list = []
    kw = dict(
        fetch_file=_fake_fetch_file(calls),
        fetch_folder=_fake_fetch_folder(calls),
        log=lambda s: None,
    )
    download_models.download(tmp_path, include_optional=False, **kw)
    assert not (tmp_path / "indextts2/qwen0.6bemo4-merge").exists()
    calls.clear()
    again = download_models.download(tmp_path, include_optional=False, **kw)
    assert again == [] and calls == []


def test_failed_download_leaves_nothing_half_written(tmp_path):
    def broken(repo, filename, dest):
        (dest / "partial").write_bytes(b"xx")
        raise ConnectionError("network unreachable")

    with pytest.raises(ConnectionError):
        download_models.download(
            tmp_path, fetch_file=broken, fetch_folder=broken, log=lambda s: None
        )
    assert not (tmp_path / "indextts2/config.yaml").exists()
    assert not list(tmp_path.rglob("partial"))


def test_check_mode_reports_missing(tmp_path, capsys):
    assert download_models.main(["--model-dir", str(tmp_path), "--check"]) == 1
    assert "indextts2/gpt.pth" in capsys.readouterr().out
