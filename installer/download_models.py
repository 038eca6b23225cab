"""Download the model files into a model directory (run by the installer, never at run time).

    python installer/download_models.py [NAME ...] [--model-dir DIR] [--token TOKEN]
                                        [--endpoint URL] [--check] [--verify]

NAME is a model of resources/model_manifest.json (indextts2, text-emotion, w2v-bert,
semantic-codec, campplus, bigvgan, pyannote, whisper, separation), or `required` (the default),
`optional`, `all`. The same as `dubsmith models download`: each file is fetched from its
Hugging Face repository (or the mirror in --endpoint / HF_ENDPOINT) into
`<model dir>/.download/`, resumed there after an interruption, checked against the size
and sha256 the hub reports, and only then moved into place. Gated repositories (pyannote)
need a token (--token or HF_TOKEN). Files already whole are skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.models import download as model_download  # noqa: E402
from core.models import installed as model_manager  # noqa: E402
from models.layout import default_model_dir, manifest_entries  # noqa: E402, F401
from models.manifest import FileSpec  # noqa: E402


def plan(model_dir: Path, include_optional: bool = True) -> list[dict]:
    """Manifest entries whose file is missing or damaged under model_dir."""
    names = {
        f.path
        for s in model_manager.status(model_dir)
        if include_optional or s.required
        for f in s.files
        if f.state != "ok"
    }
    return [e for e in manifest_entries() if e["path"] in names]


def download(
    model_dir: Path,
    *,
    include_optional: bool = True,
    fetch_file: Callable[[str, str, Path], Path] | None = None,
    fetch_folder: Callable[[str, str, Path], Path] | None = None,
    log: Callable[[str], None] = print,
    token: str | None = None,
    endpoint: str | None = None,
) -> list[Path]:
    """Fetch every missing file (`include_optional`: of every model, else of the required
    ones); returns the paths written. `fetch_file(repo, filename, dest_dir)` and
    `fetch_folder(repo, folder, dest_dir)` replace the hub (they return what they wrote)."""
    fetch = None
    if fetch_file is not None or fetch_folder is not None:

        def fetch(spec: FileSpec, stage: Path, meter) -> model_download.Fetched:
            if spec.is_folder:
                return model_download.Fetched(
                    Path(fetch_folder(spec.repo, spec.file.rstrip("/"), stage))
                )
            return model_download.Fetched(Path(fetch_file(spec.repo, spec.file, stage)))

    return model_download.download(
        ["all"] if include_optional else ["required"],
        Path(model_dir).expanduser(),
        token=token,
        endpoint=endpoint,
        fetch=fetch,
        log=log,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("names", nargs="*", metavar="NAME", help="models (default: required)")
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--token", default=None, help="Hugging Face token (default: HF_TOKEN)")
    ap.add_argument("--endpoint", default=None, help="hub mirror (default: HF_ENDPOINT)")
    ap.add_argument("--force", action="store_true", help="fetch again what is already there")
    ap.add_argument("--skip-optional", action="store_true", help=argparse.SUPPRESS)  # the default
    ap.add_argument("--check", action="store_true", help="only list what is missing")
    ap.add_argument("--verify", action="store_true", help="only verify sizes and checksums")
    ap.add_argument(
        "--allow-custom", action="store_true", help="with --verify: accept non-released files"
    )
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument(
        "--list-gated", action="store_true", help="print which of NAMES need a token, and stop"
    )
    args = ap.parse_args(argv)
    if args.list_gated:  # the install scripts ask for a token only when this prints something
        try:
            chosen = model_manager.resolve(args.names or None)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        for m in chosen:
            if m.gated:
                print(f"{m.name} {m.repo}")
        return 0
    model_dir = (args.model_dir or default_model_dir()).expanduser()
    if args.check:
        todo = plan(model_dir, include_optional=False)
        for e in todo:
            print(f"missing: {e['path']} ({e['repo']})")
        return 1 if todo else 0
    # The rest is `dubsmith models download|verify`: one implementation, one output.
    from app.cli import main as dubsmith

    where = ["--model-dir", str(model_dir)]
    if args.verify:
        custom = ["--allow-custom"] if args.allow_custom else []
        return dubsmith(["models", "verify", *where, *custom])
    flags = [*where, *(["--token", args.token] if args.token else [])]
    flags += ["--endpoint", args.endpoint] if args.endpoint else []
    flags += ["--force"] if args.force else []
    flags += ["--no-progress"] if args.no_progress else []
    return dubsmith(["models", "download", *args.names, *flags])


if __name__ == "__main__":
    sys.exit(main())
