"""What the model directory holds, fetching what it lacks, and checking what it has.

Qt-free: the command line (`dubsmith models list|download|verify`), the installer
(installer/download_models.py) and the window's settings page call the same functions::

    status(model_dir) -> list[ModelStatus]             # installed / missing / damaged, per file
    verify(model_dir, quick=False) -> list[Problem]    # sizes, checksums, structure; offline
    download(names, model_dir, progress, cancelled, token, endpoint) -> list[Path]
    resolve(names) -> list[ModelSpec]                  # "required" (default), "optional", "all"

Downloads go through huggingface_hub (file metadata, then a ranged GET), one file at a time,
into `<model dir>/.download/`, and are renamed into place only once whole and checked
against the size and sha256 the hub reports. An interrupted file stays there as `NAME.part`
and the next download continues from its last byte. What each download found is kept in
`<model dir>/.dubsmith-models.json`, so `verify` can later tell a file that changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from core.download_messages import hub_message as _hub_message
from core.download_messages import is_transient as _is_transient
from core.download_messages import network_message as _network_message
from core.download_messages import token_message as _token_message
from models.manifest import (
    FileSpec,
    Manifest,
    ModelSpec,
    Record,
    folder_files,
    format_of,
    installed_path,
    load_manifest,
    read_record,
    sha256_of,
    structure_problem,
    target_path,
    write_record,
)
from models.registry import default_model_dir

STAGE_NAME = ".download"
PART = ".part"
SELECTORS = ("required", "optional", "all")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadError(Exception):
    """A download failed; the message says which file, why, and what to do."""


class TokenRequired(DownloadError):
    """A gated repository was asked for without a Hugging Face token."""


class DownloadCancelled(Exception):
    """`cancelled()` turned true; finished files are in place, the current one resumes."""


# ----------------------------------------------------------------------------- status


@dataclass(frozen=True)
class FileStatus:
    path: str  # as in the manifest: "indextts2/gpt.pth"
    location: Path  # where it is, or would be
    state: str  # "ok" | "missing" | "damaged"
    detail: str = ""
    required: bool = True
    folder: bool = False  # a folder entry (text-emotion's qwen0.6bemo4-merge/)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    title: str
    feature: str
    required: bool
    gated: bool
    placeholder: bool
    note: str
    repo: str | None
    # "installed", "missing" (required, nothing there), "absent" (optional, nothing there),
    # "incomplete" (some files missing), "damaged", "unavailable" (nothing to download yet)
    state: str
    files: tuple[FileStatus, ...]
    fetch: str  # the command that fetches it
    approx_bytes: int = 0

    @property
    def in_use(self) -> bool:
        """Required, or (partly) installed: its problems count."""
        return not self.placeholder and (
            self.required or any(f.state != "missing" for f in self.files)
        )

    @property
    def ok(self) -> bool:
        return self.state in ("installed", "absent", "unavailable")


def fetch_command(name: str, model_dir: Path | None = None, gated: bool = False) -> str:
    cmd = f"dubsmith models download {name}"
    if model_dir is not None:
        cmd += f" --model-dir {model_dir}"
    return cmd + (" --token YOUR_HF_TOKEN" if gated else "")


def _expected(spec: FileSpec, record: Record) -> tuple[int | None, str | None]:
    """(size, sha256) a file must have: the manifest's where it knows, else the record's."""
    facts = record.expected(spec.path)
    size = spec.size if spec.size is not None else facts.get("size")
    return size, spec.sha256 or facts.get("sha256")


def _file_state(model_dir: Path, spec: FileSpec, record: Record) -> FileStatus:
    """Presence, structure and size (a stat): milliseconds, whatever the file's size."""
    where = installed_path(model_dir, spec)
    mk = lambda state, detail="": FileStatus(  # noqa: E731
        spec.path, where, state, detail, spec.required, spec.is_folder
    )
    if spec.is_folder:
        if not where.is_dir():
            return mk("missing")
        problem = structure_problem(where, spec)
        if problem is None:
            problem = _folder_record_problem(where, spec, record, hash_files=False)
        return mk("damaged", problem) if problem else mk("ok")
    if not where.exists():
        return mk("missing")
    problem = structure_problem(where, spec) or _size_problem(where, *_expected(spec, record))
    return mk("damaged", problem) if problem else mk("ok")


def _size_problem(path: Path, size: int | None, _sha: str | None = None) -> str | None:
    if size is None:
        return None
    have = path.stat().st_size
    if have != size:  # its structure looked whole: most likely another file of that name
        return f"wrong size ({have} bytes, expected {size}): not this model's file, or cut short"
    return None


def _sha_problem(path: Path, sha: str | None) -> str | None:
    if not sha:
        return None
    got = sha256_of(path)
    if got != sha.lower():
        return f"checksum mismatch (sha256 {got[:16]}..., expected {sha[:16]}...): not this model's file or corrupt"
    return None


def _folder_record_problem(
    folder: Path, spec: FileSpec, record: Record, hash_files: bool
) -> str | None:
    prefix = spec.path.rstrip("/") + "/"
    for rel, facts in sorted(record.files.items()):
        if not rel.startswith(prefix):
            continue
        path = folder / rel[len(prefix) :]
        if not path.is_file():
            return f"partial ({rel[len(prefix) :]} is missing)"
        problem = _size_problem(path, facts.get("size"))
        if problem is None and hash_files:
            problem = _sha_problem(path, facts.get("sha256"))
        if problem:
            return f"{rel[len(prefix) :]}: {problem}"
    return None


def _model_state(model: ModelSpec, files: Sequence[FileStatus]) -> str:
    if model.placeholder or not model.files:
        return "unavailable"
    states = {f.state for f in files}
    if states == {"ok"}:
        return "installed"
    if states == {"missing"}:
        return "missing" if model.required else "absent"
    return "damaged" if "damaged" in states else "incomplete"


def status(model_dir: Path | None = None, manifest: Manifest | None = None) -> list[ModelStatus]:
    """Every model of the manifest with the state of each of its files (no hashing)."""
    model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir()
    manifest = manifest or load_manifest()
    record = read_record(model_dir)
    out = []
    for m in manifest.models:
        files = tuple(_file_state(model_dir, f, record) for f in m.files)
        out.append(
            ModelStatus(
                name=m.name,
                title=m.title,
                feature=m.feature,
                required=m.required,
                gated=m.gated,
                placeholder=m.placeholder,
                note=m.note,
                repo=m.repo,
                state=_model_state(m, files),
                files=files,
                fetch=fetch_command(m.name, model_dir, m.gated),
                approx_bytes=m.approx_bytes,
            )
        )
    return out


# ----------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Problem:
    model: str
    path: str  # as in the manifest ("indextts2/gpt.pth"; "indextts2/qwen0.6bemo4-merge/x")
    location: Path
    kind: str  # "missing" | "damaged" | "size" | "checksum"
    detail: str
    required: bool
    fetch: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


def verify(
    model_dir: Path | None = None,
    quick: bool = False,
    manifest: Manifest | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Problem]:
    """Every problem of the models in use (required, or partly installed), offline:
    missing files, broken structure, sizes, and (unless `quick`) sha256 checksums against
    the manifest or what the download recorded. `progress(path, done, total)` per file."""
    model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir()
    manifest = manifest or load_manifest()
    record = read_record(model_dir)
    in_use = [s for s in status(model_dir, manifest) if s.in_use]
    todo = [(manifest.model(s.name), f) for s in in_use for f in manifest.model(s.name).files]
    problems: list[Problem] = []
    for number, (model, spec) in enumerate(todo):
        if progress:
            progress(spec.path, number, len(todo))
        fetch = fetch_command(model.name, model_dir, model.gated)
        for path, rel, kind, detail in _check(model_dir, spec, record, quick):
            problems.append(Problem(model.name, rel, path, kind, detail, model.required, fetch))
    if progress:
        progress("", len(todo), len(todo))
    return problems


def _check(model_dir: Path, spec: FileSpec, record: Record, quick: bool):
    where = installed_path(model_dir, spec)
    if not where.exists():
        yield where, spec.path, "missing", "missing"
        return
    if not spec.is_folder:
        yield from _check_one(where, spec.path, spec, *_expected(spec, record), quick)
        return
    problem = structure_problem(where, spec)
    if problem:
        yield where, spec.path + "/", "damaged", problem
    prefix = spec.path.rstrip("/") + "/"
    recorded = {rel[len(prefix) :] for rel in record.files if rel.startswith(prefix)}
    present = {p.relative_to(where).as_posix() for p in folder_files(where)}
    for name in sorted(recorded - present):
        yield where / name, prefix + name, "missing", "missing"
    for name in sorted(present):
        path = where / name
        sub = FileSpec(
            spec.model, prefix + name, spec.repo, name, spec.required, format_of(name, name)
        )
        facts = record.expected(prefix + name)
        yield from _check_one(
            path, prefix + name, sub, facts.get("size"), facts.get("sha256"), quick
        )


def _check_one(path: Path, rel: str, spec: FileSpec, size, sha, quick: bool):
    problem = structure_problem(path, spec)
    if problem:
        yield path, rel, "damaged", problem
        return
    problem = _size_problem(path, size)
    if problem:
        yield path, rel, "size", problem
        return
    if not quick:
        problem = _sha_problem(path, sha)
        if problem:
            yield path, rel, "checksum", problem


def checksums_known(
    model_dir: Path | None = None, manifest: Manifest | None = None
) -> tuple[int, int]:
    """(files with a known sha256, files in use): how much a full verify can prove."""
    model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir()
    manifest = manifest or load_manifest()
    record = read_record(model_dir)
    known = total = 0
    for s in status(model_dir, manifest):
        if not s.in_use:
            continue
        for spec in manifest.model(s.name).files:
            total += 1
            if spec.is_folder:
                prefix = spec.path.rstrip("/") + "/"
                known += any(
                    r.startswith(prefix) and f.get("sha256") for r, f in record.files.items()
                )
            else:
                known += bool(_expected(spec, record)[1])
    return known, total


# ----------------------------------------------------------------------------- download


def resolve(names: Iterable[str] | None, manifest: Manifest | None = None) -> list[ModelSpec]:
    """Model specs for names; None or "required": the required ones; "optional", "all"."""
    manifest = manifest or load_manifest()
    names = list(names or ["required"])
    chosen: list[ModelSpec] = []
    for name in names:
        if name == "required":
            picked = [m for m in manifest.models if m.required]
        elif name == "optional":
            picked = [m for m in manifest.models if not m.required and m.downloadable]
        elif name == "all":
            picked = [m for m in manifest.models if m.downloadable]
        else:
            picked = [manifest.model(name)]  # KeyError names the known ones
        chosen += [m for m in picked if m not in chosen]
    return chosen


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
    todo = [(m, f) for m in models for f in m.files if force or _needs_fetch(model_dir, f, record)]
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


def _needs_fetch(model_dir: Path, spec: FileSpec, record: Record) -> bool:
    """A file a download recorded, still of its recorded size, is not fetched again;
    anything else present is fetched again only when it looks damaged."""
    where = installed_path(model_dir, spec)
    facts = record.expected(spec.path)
    if spec.is_folder:
        prefix = spec.path.rstrip("/") + "/"
        if where.is_dir() and any(r.startswith(prefix) for r in record.files):
            return _folder_record_problem(where, spec, record, hash_files=False) is not None
    elif where.is_file() and facts.get("size") is not None:
        return where.stat().st_size != facts["size"]
    return _file_state(model_dir, spec, record).state != "ok"


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
