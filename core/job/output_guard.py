"""The one rule for a dub's outputs: none of them is an input, nor another output, and
each can be written, checked before any work.

Outputs: the video (-o), the report, the dub WAV, the stems folder and the delivery
folder (--deliver). Inputs: the video, its subtitles (given, or the file found next to
the video), the voice files, and the project file with everything it names (speakers'
voice files, lines' emotion references).
"Same" means the same path once resolved (symbolic links, "..") or the same file under
another name (a hard link). A name the file system cannot hold, together with the hidden
temp name written beside it, is refused here, not after hours of rendering.

    class OutputError(InputError)   # the CLI exits 2: a mistake on the command line
    dub_outputs(options) -> dict[str, Path]
    project_files(video) -> (movie.dubsmith.json, movie.mp4.dubsmith.json)
    dub_inputs(video, options) -> list[tuple[str, Path]]
    check_outputs(video, options) -> None
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from core import project as proj
from core.deliver.mux import ExportError, container_for, same_file
from core.errors import InputError
from core.job.options import DubOptions
from core.subtitles.read import find_subtitles_for
from core.temp_files import TEMP_NAME_EXTRA, remove_stale_temps

_PROJECT_READ_LIMIT = 64 * 1024 * 1024
# What a project names that a dub reads: voice files, emotion references, the desk's lines.
_READ_KEYS = ("prompt_path", "reference_path", "edited_subtitles")
# core.job.pipeline writes the stems as cue0001.wav, cue0002.wav...
_STEM_NAME = re.compile(r"^cue\d{4,}\.wav$")
# core/deliver writes NAME.mix.wav, NAME.otio, NAME.qc.html... (NAME: the video's -o stem)
_DELIVERED = frozenset({".wav", ".otio", ".xml", ".aaf", ".html"})


class OutputError(InputError):
    """An output of the dub cannot be used as given (a folder, an input, a name too long,
    a folder that is missing or read-only); `field` names the DubOptions field."""


def dub_outputs(options: DubOptions) -> dict[str, Path]:
    """The files the dub writes, by DubOptions field (the stems folder not included)."""
    outputs = {"output": Path(options.output)}
    if options.report_path:
        outputs["report_path"] = Path(options.report_path)
    if options.dub_wav:
        outputs["dub_wav"] = Path(options.dub_wav)
    return outputs


def _named_in_project(path: Path) -> list[Path]:
    """Every file a project file names as something the dub reads (voice files, emotion
    references). Read leniently and never repaired here: a damaged project is the
    project keeper's to report."""
    try:
        if not path.is_file() or path.stat().st_size > _PROJECT_READ_LIMIT:
            return []
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return []
    found: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _READ_KEYS and isinstance(value, str) and value:
                    p = Path(value)
                    found.append(p if p.is_absolute() else path.parent / p)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return found


def project_files(video: Path) -> tuple[Path, Path]:
    """Both names a project of this video can have (movie.dubsmith.json, or
    movie.mp4.dubsmith.json beside a movie.mkv): neither may be written over."""
    video = Path(video)
    return proj.project_path_for(video), video.with_name(video.name + proj.PROJECT_SUFFIX)


def dub_inputs(video: Path, options: DubOptions) -> list[tuple[str, Path]]:
    """What the dub reads, each with the words that name it in a message."""
    video = Path(video)
    inputs: list[tuple[str, Path]] = [("the video", video)]
    subtitles = options.subtitles or find_subtitles_for(video)
    if subtitles is not None:
        inputs.append(("the subtitles", Path(subtitles)))
    for speaker, path in options.voices.items():
        inputs.append((f"the voice file of {speaker}", Path(path)))
    for project in project_files(video):
        inputs.append(("the project file", project))
        inputs += [("a file the project uses", p) for p in _named_in_project(project)]
    return inputs


def _check_writable(path: Path, field: str) -> None:
    if path.is_dir():
        raise OutputError(
            f"{path} is a folder; name a file in it (for example {path / 'dub'}…)", field
        )
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist", field)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable", field)
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
        path_max = os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    whole = len(os.fsencode(str(folder.resolve() / path.name))) + TEMP_NAME_EXTRA
    if whole >= path_max:
        raise OutputError(
            f"cannot write {path}: with its hidden temporary name the path is {whole} bytes, "
            f"over this system's limit of {path_max}; choose a shorter folder or name",
            field,
        )
    size = len(os.fsencode(path.name))
    if size + TEMP_NAME_EXTRA > name_max:
        raise OutputError(
            f"the name {path.name[:40]}… is too long ({size} bytes): Dubsmith writes it first "
            f"under a hidden temporary name {TEMP_NAME_EXTRA} bytes longer, and this file "
            f"system allows {name_max} bytes a name; use a name of at most "
            f"{name_max - TEMP_NAME_EXTRA} bytes",
            field,
        )


def _check_stems(stems: Path, inputs: list[tuple[str, Path]], outputs: dict[str, Path]) -> None:
    if stems.exists() and not stems.is_dir():
        raise OutputError(f"{stems} is a file, not a folder for the stems", "stems_dir")
    for what, source in inputs:
        if same_file(stems, source):
            raise OutputError(f"{stems} is {what}, not a folder for the stems", "stems_dir")
        if same_file(stems, source.parent):
            raise OutputError(
                f"{stems} is the folder of {what}; choose an empty folder for the stems",
                "stems_dir",
            )
    for path in outputs.values():
        if same_file(stems, path) or (
            same_file(stems, path.parent) and _STEM_NAME.match(path.name)
        ):
            raise OutputError(f"the stems folder {stems} would write over {path}", "stems_dir")


def check_delivery(
    folder: Path, name: str, inputs: list[tuple[str, Path]], outputs: dict[str, Path]
) -> None:
    """--deliver writes NAME.* (and NAME.takes/) into ``folder``: none of it may be an
    input or another output, and the folder must be one we can make and write."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder for the delivery", "deliver_dir")
    for what, path in [*inputs, *((f"the {_WORDS[k]}", p) for k, p in outputs.items())]:
        if same_file(folder, path):
            raise OutputError(f"{folder} is {what}, not a folder for the delivery", "deliver_dir")
        ours = path.name.startswith(f"{name}.") and path.suffix.lower() in _DELIVERED
        if ours and same_file(folder, path.parent):
            raise OutputError(
                f"the delivery in {folder} would write over {path} ({what})", "deliver_dir"
            )
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the delivery: {existing} is not writable", "deliver_dir")


def check_outputs(video: Path, options: DubOptions) -> None:
    """Raise OutputError unless every output can be written and is no input and no other
    output. Temp files a killed run of ours left beside the outputs are removed."""
    outputs = dub_outputs(options)
    out = outputs["output"]
    if out.is_dir():
        raise OutputError(
            f"{out} is a folder; -o names the video to write, for example "
            f"{out / (Path(video).stem + '.dubbed.mp4')}",
            "output",
        )
    try:
        container_for(out)
    except ExportError as exc:
        raise OutputError(str(exc), "output") from exc
    inputs = dub_inputs(video, options)
    seen: dict[str, Path] = {}
    for field, path in outputs.items():
        for what, source in inputs:
            if same_file(path, source):
                raise OutputError(
                    f"{path} is an input of this dub ({what}); choose another file", field
                )
        for other, earlier in seen.items():
            if same_file(path, earlier):
                raise OutputError(f"{path} is also given as the {_WORDS[other]}", field)
        _check_writable(path, field)
        seen[field] = path
    if options.stems_dir:
        _check_stems(Path(options.stems_dir), inputs, outputs)
    if options.deliver_dir:
        check_delivery(Path(options.deliver_dir), Path(outputs["output"]).stem, inputs, outputs)
    for path in outputs.values():
        remove_stale_temps(path)


_WORDS = {"output": "output video", "report_path": "report", "dub_wav": "dub WAV"}
