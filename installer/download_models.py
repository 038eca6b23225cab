"""Download the model files into a model directory (run by the installer, never at run time).

    python installer/download_models.py [--model-dir DIR] [--skip-optional] [--check]

Each file of resources/model_manifest.json is fetched from its Hugging Face repository
(`hf_hub_download`, or `snapshot_download` for folders) into a staging folder and then
moved into place, so an interrupted download never leaves a half-written file where the
engine would read it. Files already present are skipped.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.layout import default_model_dir, manifest_entries  # noqa: E402


def _hub_file(repo: str, filename: str, dest_dir: Path) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo_id=repo, filename=filename, local_dir=dest_dir))


def _hub_folder(repo: str, folder: str, dest_dir: Path) -> Path:
    from huggingface_hub import snapshot_download

    snapshot_download(repo_id=repo, allow_patterns=[f"{folder}*"], local_dir=dest_dir)
    return dest_dir / folder


def plan(model_dir: Path, include_optional: bool = True) -> list[dict]:
    """Manifest entries whose target is missing under model_dir."""
    todo = []
    for e in manifest_entries():
        if not e["required"] and not include_optional:
            continue
        if not (model_dir / e["path"]).exists():
            todo.append(e)
    return todo


def download(
    model_dir: Path,
    *,
    include_optional: bool = True,
    fetch_file: Callable[[str, str, Path], Path] = _hub_file,
    fetch_folder: Callable[[str, str, Path], Path] = _hub_folder,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Fetch every missing file; returns the paths written."""
    model_dir = Path(model_dir).expanduser()
    model_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for e in plan(model_dir, include_optional):
        target = model_dir / e["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        log(f"downloading {e['repo']}:{e['file']} -> {target}")
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as stage:
            stage_dir = Path(stage)
            if e["file"].endswith("/"):
                got = fetch_folder(e["repo"], e["file"].rstrip("/"), stage_dir)
            else:
                got = fetch_file(e["repo"], e["file"], stage_dir)
            if not Path(got).exists():
                raise RuntimeError(f"download of {e['repo']}:{e['file']} produced no file")
            shutil.move(str(got), target)  # same filesystem: a rename
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--skip-optional", action="store_true", help="skip the text-to-emotion model")
    ap.add_argument("--check", action="store_true", help="only list what is missing")
    args = ap.parse_args(argv)
    model_dir = args.model_dir or default_model_dir()
    todo = plan(model_dir, not args.skip_optional)
    if args.check:
        for e in todo:
            print(f"missing: {e['path']} ({e['repo']})")
        return 1 if any(e["required"] for e in todo) else 0
    try:
        download(model_dir, include_optional=not args.skip_optional)
    except Exception as exc:  # network errors, disk full, ...: one clear line
        print(f"download failed: {exc}", file=sys.stderr)
        return 1
    print(f"model files complete in {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
