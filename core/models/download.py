"""Fetch the model files the model directory lacks, from the Hugging Face hub.

Qt-free: the command line (`dubsmith models download`), the installer and the window's
settings page call::

    download(names, model_dir, progress, cancelled, token, endpoint) -> list[Path]

Downloads go through huggingface_hub (file metadata, then a ranged GET), one file at a time,
into `<model dir>/.download/`, and are renamed into place only once whole and checked
against the size and sha256 the hub reports. An interrupted file stays there as `NAME.part`
and the next download continues from its last byte. What each download found is kept in
`<model dir>/.dubsmith-models.json`; what the directory holds is core.models.installed's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from core.models.download_messages import hub_message as _hub_message
from core.models.download_messages import is_transient as _is_transient
from core.models.download_messages import network_message as _network_message
from core.models.download_messages import token_message as _token_message
from core.models.installed import needs_fetch, resolve
from models.manifest import (
    FileSpec,
    Manifest,
    folder_files,
    load_manifest,
    read_record,
    sha256_of,
    target_path,
    write_record,
)
from models.registry import default_model_dir

STAGE_NAME = ".download"
PART = ".part"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadError(Exception):
    """A download failed; the message says which file, why, and what to do."""


class TokenRequired(DownloadError):
    """A gated repository was asked for without a Hugging Face token."""


class DownloadCancelled(Exception):
    """`cancelled()` turned true; finished files are in place, the current one resumes."""


@dataclass(frozen=True)
class DownloadProgress:
    model: str
    path: str  # the manifest path being fetched
    done_bytes: int
    total_bytes: int | None
    file_number: int  # 0-based among the files this download fetches
    file_count: int


@dataclass(frozen=True)
class Remote:
    """What the hub said about a file: its size, its sha256 (LFS files), the commit."""

    size: int | None = None
    sha256: str | None = None
    revision: str | None = None


@dataclass
class Fetched:
    """What a fetcher left in its stage folder: a file or a folder, with the hub's facts
    (key: "" for a file, the path inside the folder for a folder's files)."""

    path: Path
    remote: dict[str, Remote] = field(default_factory=dict)


class Meter(Protocol):
    def __call__(self, done_bytes: int, total_bytes: int | None) -> None: ...


class Fetcher(Protocol):
    def __call__(self, spec: FileSpec, stage: Path, meter: Meter) -> Fetched: ...


def download(
    names: Iterable[str] | None = None,
    model_dir: Path | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    *,
    manifest: Manifest | None = None,
    fetch: Fetcher | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Fetch the named models' files that are missing or damaged (None: the required
    models), each staged under `<model_dir>/.download/` and renamed into place once it
    has the hub's size and sha256. `token` (else HF_TOKEN) opens gated repositories;
    `endpoint` (else HF_ENDPOINT) names a mirror. Returns the paths written. Raises
    TokenRequired before any transfer when a gated model has no token, DownloadError
    (the file, why, what to do), DownloadCancelled. `fetch` replaces the hub (tests)."""
    model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir()
    manifest = manifest or load_manifest()
    token = token or os.environ.get("HF_TOKEN") or None
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    cancelled = cancelled or (lambda: False)
    log = log or (lambda _msg: None)
    models = [m for m in resolve(names, manifest) if m.downloadable]
    if fetch is None:
        locked = [m for m in models if m.gated and not token]
        named = [m for m in locked if m.name in set(names or ())]
        if named:
            raise TokenRequired(_token_message(named, endpoint))
        for m in locked:  # chosen through "all"/"optional": skipped, said why
            log(f"skipping {m.name}: {_token_message([m], endpoint)}")
        models = [m for m in models if m not in locked]
        fetch = HubFetcher(token=token, endpoint=endpoint, cancelled=cancelled)
    model_dir.mkdir(parents=True, exist_ok=True)
    record = read_record(model_dir)
    todo = [(m, f) for m in models for f in m.files if force or needs_fetch(model_dir, f, record)]
    stage_root = model_dir / STAGE_NAME
    written: list[Path] = []
    for number, (model, spec) in enumerate(todo):
        if cancelled():
            raise DownloadCancelled()
        log(f"downloading {spec.repo}:{spec.file} -> {target_path(model_dir, spec)}")
        stage = stage_root / spec.path.rstrip("/")
        stage.mkdir(parents=True, exist_ok=True)

        def meter(done: int, total: int | None, _m=model, _spec=spec, _n=number) -> None:
            if progress:
                progress(DownloadProgress(_m.name, _spec.path, done, total, _n, len(todo)))

        try:
            got = fetch(spec, stage, meter)
            if not Path(got.path).exists():
                raise DownloadError(f"download of {spec.repo}:{spec.file} produced no file")
            facts = _accept(got, spec)
        except BaseException as exc:
            _keep_only_parts(stage, model_dir)
            if not isinstance(fetch, HubFetcher) or not isinstance(exc, Exception):
                raise  # Ctrl-C, or a caller's own fetcher: as it came
            if isinstance(exc, DownloadError | DownloadCancelled):
                raise
            if _is_transient(exc):
                raise DownloadError(_network_message(spec, exc, endpoint)) from exc
            raise DownloadError(_hub_message(spec, exc, endpoint)) from exc
        target = target_path(model_dir, spec)
        _move_into_place(Path(got.path), target)
        shutil.rmtree(stage, ignore_errors=True)
        _prune_empty(stage.parent, stop=model_dir)
        for rel, f in facts.items():
            record.files[rel] = f
        write_record(model_dir, record)
        written.append(target)
    return written


def _accept(got: Fetched, spec: FileSpec) -> dict[str, dict]:
    """Check what arrived against the hub's and the manifest's size and sha256; the facts
    to record. A mismatch deletes the staged copy (it can never become right)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = Path(got.path)
    items = (
        [
            (spec.path.rstrip("/") + "/" + p.relative_to(path).as_posix(), p)
            for p in folder_files(path)
        ]
        if path.is_dir()
        else [(spec.path, path)]
    )
    facts: dict[str, dict] = {}
    for rel, p in items:
        key = "" if not path.is_dir() else rel[len(spec.path.rstrip("/")) + 1 :]
        remote = got.remote.get(key, Remote())
        size = p.stat().st_size
        sha = sha256_of(p)
        want_size = spec.size if not path.is_dir() and spec.size is not None else remote.size
        wants = [s for s in (remote.sha256, spec.sha256 if not path.is_dir() else None) if s]
        if want_size is not None and size != want_size:
            p.unlink()
            raise DownloadError(
                f"{spec.repo}:{spec.file}: {rel} arrived with {size} bytes, expected "
                f"{want_size}; run the download again"
            )
        if any(w.lower() != sha for w in wants):
            p.unlink()
            raise DownloadError(
                f"{spec.repo}:{spec.file}: {rel} arrived corrupt (sha256 {sha[:16]}... is not "
                f"the hub's {wants[0][:16]}...); run the download again"
            )
        facts[rel] = {
            "size": size,
            "sha256": sha,
            "repo": spec.repo,
            "file": spec.file if not path.is_dir() else spec.file + key,
            "revision": remote.revision,
            "checked_against_hub": bool(remote.sha256),
            "downloaded": now,
        }
    return facts


def _move_into_place(staged: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)  # a damaged folder (a whole one is never fetched again)
    elif target.is_symlink() or target.exists():
        target.unlink()
    os.replace(staged, target)  # same filesystem (both under the model dir): a rename


def _keep_only_parts(stage: Path, model_dir: Path) -> None:
    """After a failure: keep the partial files the next run resumes, drop the rest."""
    if not stage.exists():
        return
    for p in sorted(stage.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if p.is_dir():
            if not any(p.iterdir()):
                p.rmdir()
        elif not (p.name.endswith(PART) or p.name.endswith(PART + ".json")):
            p.unlink()
    if not any(stage.iterdir()):
        stage.rmdir()
        _prune_empty(stage.parent, stop=model_dir)


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty stage folders up to and including `<model dir>/.download`."""
    while STAGE_NAME in folder.parts and folder != stop:
        try:
            folder.rmdir()
        except OSError:
            return
        if folder.name == STAGE_NAME:
            return
        folder = folder.parent


# ----------------------------------------------------------------------------- the hub


class HubFetcher:
    """Files from a Hugging Face repository (or a mirror), resumable across runs: each
    file's bytes go to `NAME.part` beside a `NAME.part.json` naming the remote version
    (etag); a later run with the same version asks only for the bytes after them."""

    def __init__(
        self,
        token: str | None = None,
        endpoint: str | None = None,
        cancelled: Callable[[], bool] | None = None,
        revision: str | None = None,
    ) -> None:
        self.token = token
        self.endpoint = endpoint
        self.cancelled = cancelled or (lambda: False)
        self.revision = revision

    def __call__(self, spec: FileSpec, stage: Path, meter: Meter) -> Fetched:
        if not spec.is_folder:
            dest = stage / Path(spec.file).name
            return Fetched(dest, {"": self.fetch_file(spec.repo, spec.file, dest, meter)})
        import huggingface_hub as hub

        folder = spec.file.rstrip("/")
        api = hub.HfApi(endpoint=self.endpoint, token=self.token)
        names = [
            n for n in api.list_repo_files(spec.repo, revision=self.revision)
            if n.startswith(folder + "/")
        ]  # fmt: skip
        if not names:
            raise DownloadError(f"{spec.repo} has no folder {folder}/")
        root = stage / Path(folder).name
        remote = {}
        for name in names:
            rel = name[len(folder) + 1 :]
            remote[rel] = self.fetch_file(spec.repo, name, root / rel, meter)
        return Fetched(root, remote)

    def fetch_file(self, repo: str, filename: str, dest: Path, meter: Meter) -> Remote:
        """`dest` whole (resumed from `dest.part` when one of the same version is there)."""
        import huggingface_hub as hub
        from huggingface_hub import file_download
        from huggingface_hub.utils import build_hf_headers

        url = hub.hf_hub_url(repo, filename, revision=self.revision, endpoint=self.endpoint)
        meta = hub.get_hf_file_metadata(url, token=self.token, endpoint=self.endpoint)
        etag = (meta.etag or "").strip('"')
        remote = Remote(
            size=meta.size,
            sha256=etag.lower() if _SHA256.fullmatch(etag.lower()) else None,
            revision=meta.commit_hash,
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + PART)
        version = dest.with_name(dest.name + PART + ".json")
        if dest.exists() and (remote.size is None or dest.stat().st_size == remote.size):
            return remote  # finished in an earlier run that stopped before the rename
        if part.exists():
            try:
                same = json.loads(version.read_text()).get("etag") == etag and etag
            except (OSError, ValueError):
                same = False
            if not same or (remote.size is not None and part.stat().st_size > remote.size):
                part.unlink()
        version.write_text(json.dumps({"etag": etag, "size": remote.size, "url": url}))
        have = part.stat().st_size if part.exists() else 0
        headers = build_hf_headers(token=self.token)
        where = url
        if meta.xet_file_data is None and meta.location and meta.location != url:
            where = meta.location  # the CDN: a signed address that takes no credentials
            if urlparse(where).netloc != urlparse(url).netloc:
                headers.pop("authorization", None)
        meter(have, remote.size)
        if remote.size is None or have < remote.size:
            with open(part, "ab") as f:
                file_download.http_get(
                    where,
                    f,
                    resume_size=have,
                    headers=headers,
                    expected_size=remote.size,
                    displayed_filename=filename,
                    tqdm_class=_meter_bar(meter, self.cancelled),
                )
        os.replace(part, dest)
        version.unlink(missing_ok=True)
        return remote


def _meter_bar(meter: Meter, cancelled: Callable[[], bool]):
    """A silent tqdm class for huggingface_hub's transfer loop: reports bytes to `meter`,
    and stops the transfer (the bytes so far stay in the .part file) on cancel."""
    from tqdm import tqdm

    class Bar(tqdm):
        def __init__(self, *args, initial: int = 0, total: int | None = None, **kwargs):
            kwargs.pop("name", None)
            kwargs["disable"] = True
            super().__init__(*args, initial=initial, total=total, **kwargs)
            self.done = initial
            self.size = total

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            meter(self.done, self.size)
            if cancelled():
                raise DownloadCancelled()
            return None

    return Bar
