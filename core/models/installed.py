"""What the model directory holds, and checking what it has (offline).

Qt-free: the command line (`dubsmith models list|download|verify`), the installer
(installer/download_models.py) and the window's settings page call the same functions::

    status(model_dir) -> list[ModelStatus]             # installed / missing / damaged, per file
    verify(model_dir, quick=False) -> list[Problem]    # sizes, checksums, structure; offline
    resolve(names) -> list[ModelSpec]                  # "required" (default), "optional", "all"
    needs_fetch(model_dir, spec, record) -> bool       # what a download must fetch again

Fetching what it lacks is core.models.download's. What each download found is kept in
`<model dir>/.dubsmith-models.json`, so `verify` can later tell a file that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
)
from models.registry import default_model_dir

SELECTORS = ("required", "optional", "all")


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


def needs_fetch(model_dir: Path, spec: FileSpec, record: Record) -> bool:
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
