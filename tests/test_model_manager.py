"""The model manager: list, download (against a fake hub), verify. No network: the hub
client is replaced at its boundary (huggingface_hub's file metadata, ranged GET and repo
listing) by a local fake repository built in the test from the tiny reference files."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import huggingface_hub
import numpy as np
import pytest
import torch
from huggingface_hub import file_download

from app.cli import EXIT_MODELS, EXIT_OK, EXIT_USAGE, main
from core.models import download as model_download
from core.models import installed as model_manager
from installer import download_models
from models.layout import locate
from models.manifest import RECORD_NAME, installed_path, load_manifest, read_record

MANIFEST = load_manifest()
REQUIRED = [f for m in MANIFEST.models if m.required for f in m.files]
LFS_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".npz")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class FakeHub:
    """Repositories as {repo: {filename: source file}}. Serves metadata (LFS files carry
    their sha256 as etag, like the hub), ranged GETs, and repository listings; records
    every request. `interrupt` names files whose first GET sends half then fails."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Path]] = {}
        self.gated: set[str] = set()
        self.interrupt: set[str] = set()
        self.corrupt: set[str] = set()  # served bytes differ from the advertised sha256
        self.gets: list[dict] = []
        self.heads: list[dict] = []

    def add(self, repo: str, filename: str, source: Path) -> None:
        self.repos.setdefault(repo, {})[filename] = Path(source).resolve()

    def _parse(self, url: str) -> tuple[str, str]:
        left, right = url.split("/resolve/", 1)
        repo = "/".join(left.split("/")[-2:])
        return repo, unquote(right.split("/", 1)[1])

    def metadata(self, url, token=None, endpoint=None, **_):
        repo, filename = self._parse(url)
        self.heads.append({"url": url, "token": token, "endpoint": endpoint})
        if repo in self.gated and token != "hf_good":
            import httpx2
            from huggingface_hub.errors import GatedRepoError

            resp = httpx2.Response(401, request=httpx2.Request("HEAD", url))
            raise GatedRepoError(f"Access to {repo} is restricted", response=resp)
        try:
            src = self.repos[repo][filename]
        except KeyError:
            from huggingface_hub.errors import EntryNotFoundError

            raise EntryNotFoundError(f"{repo} has no {filename}") from None
        if filename.endswith(LFS_SUFFIXES):
            etag = sha256(src)
        else:  # a git blob id, as the hub gives for small files
            etag = hashlib.sha1(src.read_bytes()).hexdigest()
        return file_download.HfFileMetadata(
            commit_hash="c0ffee" * 6 + "abcd",
            etag=etag,
            location=url,
            size=src.stat().st_size,
            xet_file_data=None,
        )

    def http_get(
        self,
        url,
        temp_file,
        *,
        resume_size=0,
        headers=None,
        expected_size=None,
        displayed_filename=None,
        tqdm_class=None,
        **_,
    ):
        repo, filename = self._parse(url)
        data = self.repos[repo][filename].read_bytes()
        if filename in self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        self.gets.append({"file": filename, "resume_size": resume_size, "headers": headers})
        bar = tqdm_class(total=len(data), initial=resume_size) if tqdm_class else None
        body = data[resume_size:]
        stop = len(body) // 2 if filename in self.interrupt else None
        step = max(1, len(body) // 8)
        for i in range(0, len(body), step):
            if stop is not None and i >= stop:
                self.interrupt.discard(filename)
                temp_file.flush()
                raise ConnectionError("connection reset by peer")
            chunk = body[i : i + step]
            if bar is not None:
                bar.update(len(chunk))
            temp_file.write(chunk)

    def list_repo_files(self, repo_id, *, revision=None, **_):
        return sorted(self.repos[repo_id])


@pytest.fixture
def hub(monkeypatch, tiny_model_dir) -> FakeHub:
    """A fake hub holding every required model, made of the tiny reference files."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    fake = FakeHub()
    for spec in REQUIRED:
        fake.add(spec.repo, spec.file, installed_path(tiny_model_dir, spec))
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", fake.metadata)
    monkeypatch.setattr(file_download, "http_get", fake.http_get)
    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "list_repo_files",
        lambda api, repo, **kw: fake.list_repo_files(repo, **kw),
    )

    def no_network(*a, **kw):
        raise AssertionError("the real hub client was called")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    return fake


def _add_pyannote(hub: FakeHub, tmp_path: Path) -> None:
    src = tmp_path / "pyannote-src"
    (src / "segmentation").mkdir(parents=True)
    (src / "embedding").mkdir()
    (src / "plda").mkdir()
    (src / "config.yaml").write_text(
        "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n"
    )
    torch.save({"w": torch.zeros(3)}, src / "segmentation/pytorch_model.bin")
    torch.save({"w": torch.ones(3)}, src / "embedding/pytorch_model.bin")
    np.savez(src / "plda/plda.npz", mu=np.zeros(2))
    np.savez(src / "plda/xvec_transform.npz", mean1=np.zeros(2))
    for spec in MANIFEST.model("pyannote").files:
        hub.add(spec.repo, spec.file, src / spec.file)
    hub.gated.add("pyannote/speaker-diarization-community-1")


# ---- list ------------------------------------------------------------------------------


def test_list_on_an_empty_folder_names_every_missing_file_and_its_command(tmp_path, capsys):
    empty = tmp_path / "models"
    assert main(["models", "list", "--model-dir", str(empty)]) == EXIT_MODELS
    out = capsys.readouterr().out
    for spec in REQUIRED:
        assert f"MISSING {spec.path}" in out
    for name in ("indextts2", "w2v-bert", "semantic-codec", "campplus", "bigvgan"):
        assert f"dubsmith models download {name} --model-dir {empty}" in out
    # optional models are named, with what they are for, but are not "missing"
    optional = ("whisper", "pyannote", "separation")
    for spec in [f for name in optional for f in MANIFEST.model(name).files]:
        assert f"absent  {spec.path}" in out
    assert "dubsmith models download pyannote" in out and "--token" in out
    assert f"dubsmith models download separation --model-dir {empty}" in out
    assert "nothing to download yet" not in out  # no placeholder is left
    assert "complete" not in out
    assert not empty.exists()  # listing creates nothing


def test_status_of_the_tiny_folder(tiny_model_dir):
    by_name = {s.name: s for s in model_manager.status(tiny_model_dir)}
    assert set(by_name) == set(MANIFEST.names)
    for name in ("indextts2", "w2v-bert", "semantic-codec", "campplus", "bigvgan"):
        assert by_name[name].state == "installed" and by_name[name].ok
    assert by_name["text-emotion"].state == "absent" and not by_name["text-emotion"].in_use
    assert by_name["pyannote"].gated and by_name["pyannote"].state == "absent"
    assert by_name["separation"].state == "absent" and not by_name["separation"].in_use
    assert main(["models", "--model-dir", str(tiny_model_dir)]) == EXIT_OK  # plain `models`


def test_manifest_covers_the_engine_layout_and_keeps_the_old_entry_list():
    files = locate(Path("/nowhere"))
    names = {f"indextts2/{n}" for n in files.required()}
    assert names == {f.path for f in REQUIRED}
    assert len(download_models.manifest_entries()) == len(MANIFEST.files)
    for m in MANIFEST.models:
        assert m.feature and (m.placeholder or m.repo)
        for f in m.files:  # checksums are real or absent, never made up
            assert f.sha256 is None or len(f.sha256) == 64
    assert MANIFEST.model("pyannote").gated and not MANIFEST.model("pyannote").required
    assert {f.path for f in MANIFEST.model("whisper").files} >= {"whisper/model.bin"}


# ---- download ---------------------------------------------------------------------------


def test_download_fetches_resumes_an_interrupted_file_and_verifies(hub, tmp_path):
    model_dir = tmp_path / "models"
    hub.interrupt.add("gpt.pth")
    seen: list[model_download.DownloadProgress] = []
    with pytest.raises(model_download.DownloadError, match="run the same command again"):
        model_download.download(None, model_dir, progress=seen.append)
    part = model_dir / ".download/indextts2/gpt.pth/gpt.pth.part"
    source = hub.repos["IndexTeam/IndexTTS-2"]["gpt.pth"]
    assert part.is_file() and 0 < part.stat().st_size < source.stat().st_size
    assert not (model_dir / "indextts2/gpt.pth").exists()  # never half a file in place
    assert (model_dir / "indextts2/config.yaml").is_file()  # the files before it are kept

    half = part.stat().st_size
    hub.gets.clear()
    written = model_download.download(None, model_dir, progress=seen.append)
    gpt_gets = [g["resume_size"] for g in hub.gets if g["file"] == "gpt.pth"]
    assert gpt_gets == [half]  # asked only for the rest
    assert "config.yaml" not in {g["file"] for g in hub.gets}  # finished files not again
    assert model_dir / "indextts2/gpt.pth" in written
    assert sha256(model_dir / "indextts2/gpt.pth") == sha256(source)
    assert not (model_dir / ".download").exists()
    assert seen and seen[-1].done_bytes == seen[-1].total_bytes

    assert model_manager.verify(model_dir) == []
    record = read_record(model_dir)
    assert record.files["indextts2/gpt.pth"]["sha256"] == sha256(source)
    assert record.files["indextts2/gpt.pth"]["checked_against_hub"] is True
    assert model_manager.checksums_known(model_dir) == (len(REQUIRED), len(REQUIRED))
    assert locate(model_dir).check(model_dir)  # what the engine checks before it loads
    assert model_download.download(None, model_dir) == []  # nothing left to fetch


def test_cancel_keeps_the_partial_file_for_the_next_run(hub, tmp_path):
    model_dir = tmp_path / "models"
    stop = {"now": False}

    def progress(p):
        if p.path == "indextts2/gpt.pth" and p.done_bytes > (p.total_bytes or 0) // 2:
            stop["now"] = True

    with pytest.raises(model_download.DownloadCancelled):
        model_download.download(["indextts2"], model_dir, progress, lambda: stop["now"])
    part = model_dir / ".download/indextts2/gpt.pth/gpt.pth.part"
    assert part.is_file() and not (model_dir / "indextts2/gpt.pth").exists()
    model_download.download(["indextts2"], model_dir)
    assert [g["resume_size"] > 0 for g in hub.gets if g["file"] == "gpt.pth"] == [False, True]
    assert model_manager.status(model_dir)[0].state == "installed"


def test_a_corrupt_transfer_is_refused_and_nothing_is_put_in_place(hub, tmp_path):
    model_dir = tmp_path / "models"
    hub.corrupt.add("campplus_cn_common.bin")
    with pytest.raises(model_download.DownloadError, match="arrived corrupt"):
        model_download.download(["campplus"], model_dir)
    assert not (model_dir / "indextts2/hf_cache/campplus_cn_common.bin").exists()
    assert not list(model_dir.rglob("*.part"))  # a wrong file is not resumed either


def test_download_replaces_a_damaged_file(hub, tmp_path):
    model_dir = tmp_path / "models"
    model_download.download(None, model_dir)
    campplus = model_dir / "indextts2/hf_cache/campplus_cn_common.bin"
    campplus.write_bytes(campplus.read_bytes()[:1000])
    assert model_download.download(["campplus"], model_dir) == [campplus]
    assert model_manager.verify(model_dir) == []


def test_gated_model_needs_a_token_and_a_mirror_is_honoured(hub, tmp_path, capsys):
    _add_pyannote(hub, tmp_path)
    model_dir = tmp_path / "models"
    code = main(["models", "download", "pyannote", "--model-dir", str(model_dir), "--no-progress"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "gated" in err and "HF_TOKEN" in err
    assert hub.heads == []  # refused before any request

    code = main(
        [
            "models",
            "download",
            "pyannote",
            "--model-dir",
            str(model_dir),
            "--token",
            "hf_wrong",
            "--no-progress",
        ]
    )
    assert code == 1 and "this token may not read it" in capsys.readouterr().err

    hub.heads.clear()
    code = main(
        [
            "models",
            "download",
            "pyannote",
            "--model-dir",
            str(model_dir),
            "--token",
            "hf_good",
            "--endpoint",
            "http://mirror.test",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert hub.heads and all(h["token"] == "hf_good" for h in hub.heads)
    assert all(h["url"].startswith("http://mirror.test/pyannote/") for h in hub.heads)
    assert all(g["headers"]["authorization"] == "Bearer hf_good" for g in hub.gets)
    by_name = {s.name: s for s in model_manager.status(model_dir)}
    assert by_name["pyannote"].state == "installed"
    assert (model_dir / "pyannote/plda/xvec_transform.npz").is_file()


def test_hf_token_from_the_environment_and_all_skips_a_locked_model(hub, tmp_path, monkeypatch):
    _add_pyannote(hub, tmp_path)
    logged: list[str] = []
    model_dir = tmp_path / "a"
    model_download.download(
        ["required", "optional"],
        model_dir,
        log=logged.append,
        manifest=_without(
            MANIFEST, {"text-emotion", "whisper", "separation", "voxcpm2", "indextts25"}
        ),
    )
    assert any("skipping pyannote" in line and "gated" in line for line in logged)
    assert not (model_dir / "pyannote").exists()
    monkeypatch.setenv("HF_TOKEN", "hf_good")
    model_download.download(["pyannote"], model_dir)
    assert (model_dir / "pyannote/config.yaml").is_file()


def _without(manifest, names):
    from dataclasses import replace

    return replace(manifest, models=tuple(m for m in manifest.models if m.name not in names))


def test_a_folder_entry_is_fetched_whole_and_verified(hub, tmp_path):
    src = tmp_path / "qwen-src"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    (src / "tokenizer.json").write_text(json.dumps({"version": "1.0"}))
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(4)}, str(src / "model.safetensors"))
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        hub.add("IndexTeam/IndexTTS-2", f"qwen0.6bemo4-merge/{name}", src / name)
    model_dir = tmp_path / "models"
    (written,) = model_download.download(["text-emotion"], model_dir)
    assert written == model_dir / "indextts2/qwen0.6bemo4-merge"
    assert sorted(p.name for p in written.iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert {s.name: s for s in model_manager.status(model_dir)}["text-emotion"].state == "installed"
    assert [p for p in model_manager.verify(model_dir) if p.model == "text-emotion"] == []
    (written / "tokenizer.json").unlink()
    problems = [p for p in model_manager.verify(model_dir) if p.model == "text-emotion"]
    assert [(p.path, p.kind) for p in problems] == [
        ("indextts2/qwen0.6bemo4-merge/tokenizer.json", "missing")
    ]


# ---- verify -----------------------------------------------------------------------------


@pytest.fixture
def installed(hub, tmp_path) -> Path:
    model_dir = tmp_path / "models"
    model_download.download(None, model_dir)
    return model_dir


def test_verify_rejects_a_truncated_checkpoint_and_names_it(installed, capsys):
    gpt = installed / "indextts2/gpt.pth"
    gpt.write_bytes(gpt.read_bytes()[: gpt.stat().st_size // 2])
    (problem,) = model_manager.verify(installed, quick=True)
    assert problem.path == "indextts2/gpt.pth" and problem.kind == "damaged"
    assert "cut short" in problem.detail and problem.required
    assert main(["models", "verify", "--model-dir", str(installed)]) == EXIT_MODELS
    out = capsys.readouterr().out
    assert "indextts2/gpt.pth" in out and "cut short" in out
    assert f"dubsmith models download indextts2 --model-dir {installed}" in out


def test_verify_rejects_a_foreign_checkpoint_a_valid_zip_of_another_model(installed, tmp_path):
    gpt = installed / "indextts2/gpt.pth"
    torch.save({"something.else": torch.zeros(16)}, gpt)  # whole and loadable, not ours
    (problem,) = model_manager.verify(installed, quick=True)
    assert problem.path == "indextts2/gpt.pth" and problem.kind == "size"
    assert "not this model's file" in problem.detail


def test_only_the_full_verify_finds_a_same_size_change_inside_the_data(installed):
    path = installed / "indextts2/s2mel.pth"
    with zipfile.ZipFile(path) as z:  # a byte of tensor data, far from the zip's index
        info = max(z.infolist(), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    data[info.header_offset + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    assert model_manager.verify(installed, quick=True) == []
    (problem,) = model_manager.verify(installed)
    assert problem.path == "indextts2/s2mel.pth" and problem.kind == "checksum"


def test_manifest_sizes_and_checksums_are_checked_without_a_record(tiny_model_dir, tmp_path):
    data = json.loads((Path(__file__).parents[1] / "resources/model_manifest.json").read_text())
    (spec,) = [f for f in MANIFEST.files if f.path == "indextts2/s2mel.pth"]
    s2mel = installed_path(tiny_model_dir, spec)
    for e in data["files"]:
        if e["path"] == "indextts2/s2mel.pth":
            e["size"] = s2mel.stat().st_size
            e["sha256"] = "0" * 64
        if e["path"] == "indextts2/feat1.pt":
            e["size"] = 12
    custom = tmp_path / "manifest.json"
    custom.write_text(json.dumps(data))
    manifest = load_manifest(custom)
    assert not (tiny_model_dir / RECORD_NAME).exists()
    problems = {p.path: p for p in model_manager.verify(tiny_model_dir, manifest=manifest)}
    assert set(problems) == {"indextts2/s2mel.pth", "indextts2/feat1.pt"}
    assert problems["indextts2/s2mel.pth"].kind == "checksum"
    assert problems["indextts2/feat1.pt"].kind == "size"
    quick = model_manager.verify(tiny_model_dir, quick=True, manifest=manifest)
    assert [p.path for p in quick] == ["indextts2/feat1.pt"]


def test_verify_of_the_tiny_folder_is_quick(tiny_model_dir, tmp_path):
    model_dir = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, model_dir, symlinks=True)
    start = time.perf_counter()
    assert model_manager.verify(model_dir) == []
    assert time.perf_counter() - start < 5.0


# ---- the installer's entry --------------------------------------------------------------


@pytest.mark.slow
def test_installer_entry_downloads_the_required_models_then_dub_works(
    hub, tmp_path, capsys, monkeypatch
):
    """What `installer/install.sh --models` runs, on a fresh model folder."""
    from tests import mediagen

    model_dir = tmp_path / "fresh"
    assert download_models.main(["--model-dir", str(model_dir), "--no-progress"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "installed and checked" in out
    assert download_models.main(["--model-dir", str(model_dir), "--check"]) == 0
    # The tiny random models are whole but not the release: verify says so (exit 4).
    verify = ["--model-dir", str(model_dir), "--verify"]
    assert download_models.main(verify) == EXIT_MODELS
    assert download_models.main([*verify, "--allow-custom"]) == EXIT_OK

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = mediagen.make_test_video(
        tmp_path / "clip.mp4",
        duration_s=3,
        lines=[(0.5, "Hello there.", "en-us")],
        srt_path=tmp_path / "clip.srt",
    )
    code = main(
        [
            "dub",
            str(video),
            "-o",
            str(tmp_path / "clip.dubbed.mp4"),
            "--model-dir",
            str(model_dir),
            "--flow-steps",
            "2",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    assert (tmp_path / "clip.dubbed.mp4").stat().st_size > 0


# ---- packaging --------------------------------------------------------------------------


def _spec_lists() -> dict:
    """The literal lists of installer/dubsmith.spec, read without PyInstaller."""
    import ast

    tree = ast.parse((Path(__file__).parents[1] / "installer/dubsmith.spec").read_text())
    wanted = {"HIDDEN_IMPORTS", "OPTIONAL_HIDDEN_IMPORTS", "DATAS", "COLLECT_DATA", "COPY_METADATA"}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in wanted:
                found[name] = ast.literal_eval(node.value)
    assert set(found) == wanted
    return found


def test_every_module_the_packaging_spec_names_imports():
    import importlib
    import importlib.util

    lists = _spec_lists()
    for module in lists["HIDDEN_IMPORTS"]:
        importlib.import_module(module)
    optional = 0
    for package, modules in lists["OPTIONAL_HIDDEN_IMPORTS"].items():
        try:
            present = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:
            present = False
        if present:  # bundled only where installed, as the spec does
            optional += 1
            for module in modules:
                importlib.import_module(module)
    assert optional >= 1  # tn on Linux, wetext elsewhere


def test_the_packaging_spec_data_files_and_metadata_exist():
    from importlib import metadata

    root = Path(__file__).parents[1]
    lists = _spec_lists()
    for src, dest in lists["DATAS"]:
        assert (root / src).is_file(), src
        assert dest and not Path(dest).is_absolute()
    for dist in lists["COPY_METADATA"]:
        metadata.distribution(dist)
    for script in ("installer/entry_gui.py", "installer/entry_cli.py"):
        assert (root / script).is_file() and script in (
            root / "installer/dubsmith.spec"
        ).read_text()
