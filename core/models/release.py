"""Are the installed models the released ones? Offline, beside model_manager.verify.

`verify` proves each file is whole and usable; this says whether it is the public release:
its size and sha256 against those a public project pins (resources/model_manifest.json,
`released`), and each checkpoint's tensor shapes against the released architecture
(models/released.py). A difference is no damage (a fine-tune, or the tiny test models,
may run), so it is a finding of its own: `dubsmith models verify` warns and exits 4
unless `--allow-custom`.

    not_released(model_dir, quick=False) -> list[Problem]   # kind "custom"
"""

from __future__ import annotations

from pathlib import Path

from core.models.installed import Problem, fetch_command, status
from models.manifest import (
    FileSpec,
    Manifest,
    installed_path,
    load_manifest,
    read_record,
    sha256_of,
)
from models.registry import default_model_dir
from models.released import shape_difference

CUSTOM = "custom"


def _difference(spec: FileSpec, path: Path, quick: bool, recorded: str | None) -> str | None:
    # The repository only: the manifest names the file and commit of the pin.
    who = f"pinned by {(spec.released_source or 'a public project').split()[0]}"
    shapes = shape_difference(spec.path, path)
    if shapes:
        return f"not the released architecture: {shapes}"
    size = path.stat().st_size
    if spec.released_size is not None and size != spec.released_size:
        return f"{size} bytes, the released file has {spec.released_size} ({who})"
    if quick or not spec.released_sha256:
        return None
    if (recorded or sha256_of(path)) != spec.released_sha256:
        return f"sha256 differs from the released file's ({who})"
    return None


def not_released(
    model_dir: Path | None = None,
    quick: bool = False,
    manifest: Manifest | None = None,
    trust_record: bool = False,
) -> list[Problem]:
    """A "custom" Problem for each installed file of the models in use that is not the
    released one. Files that are missing or damaged are verify's, and skipped here.
    `quick` skips the sha256 (sizes and shapes only). `trust_record`: a full verify has
    just matched every file with the sha256 its download recorded, so that one is used
    instead of hashing a multi-GB file a second time."""
    model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir()
    manifest = manifest or load_manifest()
    record = read_record(model_dir)
    found: list[Problem] = []
    for s in status(model_dir, manifest):
        if not s.in_use:
            continue
        model = manifest.model(s.name)
        states = {f.path: f.state for f in s.files}
        for spec in model.files:
            if spec.is_folder or states.get(spec.path) != "ok":
                continue
            where = installed_path(model_dir, spec)
            recorded = record.expected(spec.path).get("sha256") if trust_record else None
            detail = _difference(spec, where, quick, recorded)
            if detail:
                fetch = fetch_command(model.name, model_dir, model.gated) + " --force"
                found.append(Problem(s.name, spec.path, where, CUSTOM, detail, s.required, fetch))
    return found
