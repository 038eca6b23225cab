"""Mux the dubbed soundtrack under the untouched picture with ffmpeg.

The video stream is copied bit for bit (``-c:v copy``); the dub is encoded to AAC
(192k, 48 kHz) as audio track 1 and made the default; the original audio can follow
as track 2 (copied, not default) and a subtitle file as a text track (mov_text in
MP4; SRT/ASS copied in MKV). The container follows the output's extension (.mp4,
.m4v, .mov -> MP4 family; .mkv -> Matroska). ffmpeg writes a temp file beside the
output which is renamed over it only when complete; the input is never overwritten.
Every path reaches ffmpeg as ``file:/absolute/path`` and inputs are read as local
files only (``core.media.ffmpeg_tool.input_args``); the subtitle file is read only by a text
subtitle demuxer, so a file that looks like a playlist is never opened as one.

Public API::

    class ExportError(MediaError)
    @dataclass ExportOptions: dub_language="und", dub_title="Dub",
        include_original=False, original_stream_index=None (default audio stream),
        original_language=None (keep the file's), original_title="Original",
        subtitles: Path | None = None, subtitle_language=None, subtitle_title=None,
        audio_bitrate="192k", aac_coder="twoloop" | "fast", title=None (container title)
    container_for(path: Path) -> str                        # "mp4" | "matroska"
    build_mux_args(video, dub_audio, tmp_out, muxer, options, info) -> list[str]
    export_video(video: Path, dub_audio: Path, out: Path,
                 options: ExportOptions | None = None, progress=None) -> Path
        # progress(done, total): ffmpeg's own report, in seconds of the video's duration

``dub_audio`` is any file ffmpeg reads (normally ``mixdown.write_mix``'s WAV).
Language codes are ISO 639-2 (``eng``, ``fra``), as both containers store them.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from core.disk_space import free_bytes, need_and_free
from core.media.ffmpeg_progress import run_with_progress
from core.media.ffmpeg_tool import (
    MediaError,
    check_ffmpeg,
    ffmpeg_error_tail,
    ffmpeg_path,
    input_args,
)
from core.media.probe import MediaInfo, StreamInfo, probe, require_video
from core.temp_files import temp_path_for

_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_TEXT_SUBS_COPYABLE_MKV = {".srt": "srt", ".ass": "ass", ".ssa": "ass"}
# ffmpeg's text subtitle demuxers: the only ones allowed to open the subtitle input.
_TEXT_SUB_DEMUXERS = (
    "srt,ass,webvtt,microdvd,subviewer,subviewer1,mpsub,sami,realtext,vplayer,pjs,mpl2,"
    "jacosub,stl,aqtitle,lrc,scc"
)
# Extensions whose demuxer is forced: the file is read as what its name says.
_SUB_DEMUXER_FOR_EXT = {".srt": "srt", ".ass": "ass", ".ssa": "ass", ".vtt": "webvtt"}
# Audio an MP4 can carry as it is; any other original track is left out (and said).
_MP4_AUDIO = {"aac", "mp3", "mp2", "ac3", "eac3", "alac", "flac", "opus", "dts"}
_ENOSPC_HINT = "There is not enough free disk space in '{folder}' to write '{out}'."


class ExportError(MediaError):
    """The output could not be written; the message names it and quotes ffmpeg."""


@dataclass
class ExportOptions:
    dub_language: str = "und"
    dub_title: str | None = "Dub"
    include_original: bool = False
    original_stream_index: int | None = None
    original_language: str | None = None
    original_title: str | None = "Original"
    subtitles: Path | None = None
    subtitle_language: str | None = None
    subtitle_title: str | None = None
    audio_bitrate: str = "192k"
    # ffmpeg's AAC rate control: "twoloop" (its default, best quality) or "fast"
    # (about 1.5x quicker to encode, slightly worse at low bitrates).
    aac_coder: str = "twoloop"
    title: str | None = None
    # Told what of the original is left out (fonts in an MP4, a track MP4 cannot hold).
    on_dropped: Callable[[str], None] | None = None


def container_for(path: Path) -> str:
    """The ffmpeg muxer for an output name; ExportError for anything else."""
    ext = Path(path).suffix.lower()
    if ext not in _CONTAINERS:
        known = ", ".join(sorted(_CONTAINERS))
        raise ExportError(f"Cannot write '{path}': unknown video type '{ext}'. Use one of {known}.")
    return _CONTAINERS[ext]


def same_file(a: Path, b: Path) -> bool:
    """The same file, by path or as a hard link."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _title_args(spec: str, title: str, muxer: str) -> list[str]:
    args = [f"-metadata:s:{spec}", f"title={title}"]
    if muxer in ("mp4", "mov"):  # MP4 players show the track handler's name
        args += [f"-metadata:s:{spec}", f"handler_name={title}"]
    return args


def build_mux_args(
    video: Path, dub_audio: Path, tmp_out: Path, muxer: str, options: ExportOptions, info: MediaInfo
) -> list[str]:
    """The ffmpeg argument list (inputs: 0 video, 1 dub, 2 subtitles) writing ``muxer``."""
    video_stream = require_video(info)
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    args += input_args(video) + input_args(dub_audio)
    if options.subtitles is not None:
        sub_opts = ["-format_whitelist", _TEXT_SUB_DEMUXERS]
        forced = _SUB_DEMUXER_FOR_EXT.get(Path(options.subtitles).suffix.lower())
        if forced:
            sub_opts += ["-f", forced]
        args += input_args(options.subtitles, *sub_opts)
    # Explicit maps only: nothing of the input rides along by accident.
    args += ["-map", f"0:{video_stream.index}", "-map", "1:a:0"]
    originals, attachments = kept_originals(info, muxer, options)
    for stream in originals + attachments:
        args += ["-map", f"0:{stream.index}"]
    if options.subtitles is not None:
        args += ["-map", "2:s:0"]
    args += ["-map_metadata", "0", "-map_chapters", "0"]

    args += ["-c:v", "copy"]
    bitrate = dub_bitrate(options.audio_bitrate, _channels_of(dub_audio))
    args += ["-c:a:0", "aac", "-b:a:0", bitrate, "-ar:a:0", "48000"]
    args += ["-aac_coder", options.aac_coder]
    args += ["-metadata:s:a:0", f"language={options.dub_language or 'und'}"]
    if options.dub_title:
        args += _title_args("a:0", options.dub_title, muxer)
    args += ["-disposition:a:0", "default"]
    for n, original in enumerate(originals, start=1):
        args += [f"-c:a:{n}", "copy", f"-disposition:a:{n}", "0"]
        lang = options.original_language if n == 1 else None
        if lang or original.language:
            args += [f"-metadata:s:a:{n}", f"language={lang or original.language}"]
        title = options.original_title if n == 1 else original.title
        if title:
            args += _title_args(f"a:{n}", title, muxer)
    if attachments:
        args += ["-c:t", "copy"]
    if options.subtitles is not None:
        if muxer == "matroska":
            ext = Path(options.subtitles).suffix.lower()
            args += ["-c:s:0", "copy" if ext in _TEXT_SUBS_COPYABLE_MKV else "srt"]
        else:
            args += ["-c:s:0", "mov_text"]
        args += ["-disposition:s:0", "0"]
        if options.subtitle_language:
            args += ["-metadata:s:s:0", f"language={options.subtitle_language}"]
        if options.subtitle_title:
            args += _title_args("s:0", options.subtitle_title, muxer)
    if options.title:
        args += ["-metadata", f"title={options.title}"]
    if muxer in ("mp4", "mov"):
        # Index at the front: players can start before the whole file has arrived.
        args += ["-movflags", "+faststart"]
    args += ["-f", muxer, ffmpeg_path(tmp_out)]
    return args


def kept_originals(
    info: MediaInfo, muxer: str, options: ExportOptions
) -> tuple[list[StreamInfo], list[StreamInfo]]:
    """With the original asked for: every original audio track (the chosen one first) and
    the attached fonts, less what the container cannot hold, which `on_dropped` is told."""
    if not options.include_original:
        return [], []
    first = info.audio_stream(options.original_stream_index)
    if first is None:
        raise ExportError(f"'{info.path}' has no original audio to include as a second track.")
    tracks = [first] + [s for s in info.audio_streams if s.index != first.index]
    attachments = [s for s in info.streams if s.kind == "attachment"]
    dropped = []
    if muxer == "mp4":
        left = [s for s in tracks[1:] if (s.codec or "") not in _MP4_AUDIO]
        tracks = [s for s in tracks if s not in left]
        dropped += [
            f"original audio track #{s.index} ({s.codec}: MP4 cannot hold it)" for s in left
        ]
    if attachments and muxer != "matroska":
        dropped.append(f"{len(attachments)} attached file(s) (fonts) of the original")
        attachments = []
    if dropped and options.on_dropped is not None:
        options.on_dropped(
            "not kept in the output: " + "; ".join(dropped) + " (write .mkv to keep everything)"
        )
    return tracks, attachments


def dub_bitrate(stereo_rate: str, channels: int) -> str:
    """The dub's AAC rate: ``stereo_rate`` is what a stereo (or mono) dub gets; a 5.1 or
    7.1 dub gets as much per full-range channel pair (the LFE rides free), so a film's
    surround dub is not squeezed into a stereo budget (192k stereo -> 480k for 5.1)."""
    if channels <= 2:
        return stereo_rate
    full_range = channels - 1 if channels in (6, 8) else channels
    return f"{round(_bits_per_second(stereo_rate) * full_range / 2 / 1000)}k"


def _bits_per_second(rate: str) -> int:
    rate = rate.lower()
    return int(float(rate[:-1]) * 1000) if rate.endswith("k") else int(float(rate))


def _channels_of(dub_audio: Path) -> int:
    try:
        return sf.info(str(dub_audio)).channels
    except (RuntimeError, OSError):  # not a file soundfile reads: ffmpeg will say why
        return 2


def _check_space(out: Path, info: MediaInfo, options: ExportOptions) -> None:
    """Fail before a long mux when the disk clearly cannot hold the result."""
    need = _space_needed(info, options)
    try:
        free = shutil.disk_usage(out.parent).free
    except OSError:
        return
    if free < need:
        raise ExportError(
            _ENOSPC_HINT.format(folder=out.parent, out=out.name)
            + f" {need_and_free(need, free).capitalize()}."
        )


def _space_needed(info: MediaInfo, options: ExportOptions) -> int:
    """At most what the output takes: the input's size (picture, original tracks) and
    the dub at the highest rate it may be given."""
    bitrate = _bits_per_second(dub_bitrate(options.audio_bitrate, 8))
    return info.size_bytes + int(info.duration_s * bitrate / 8)


def _disk_full(out: Path, info: MediaInfo, options: ExportOptions) -> ExportError:
    free = free_bytes(out.parent)
    room = ""
    if free is not None:
        room = f" {need_and_free(_space_needed(info, options), free).capitalize()}."
    return ExportError(_ENOSPC_HINT.format(folder=out.parent, out=out.name) + room)


def export_video(
    video: Path,
    dub_audio: Path,
    out: Path,
    options: ExportOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``out``: the input's picture with the dub (and extras) as its audio.

    Raises ExportError when ``out`` would overwrite an input, the extension is not a
    known container, ffmpeg fails (its message quoted) or the disk is full. The
    output appears only complete: a temp file beside it is renamed at the end and
    removed on any failure. ``progress(done, total)`` follows ffmpeg's own report, in
    seconds of the video (a film's mux takes minutes).
    """
    check_ffmpeg()
    options = options or ExportOptions()
    video, dub_audio, out = Path(video), Path(dub_audio), Path(out)
    muxer = container_for(out)
    inputs = [video, dub_audio] + ([Path(options.subtitles)] if options.subtitles else [])
    for src in inputs:
        if not src.exists():
            raise ExportError(f"Cannot export: input file not found: '{src}'.")
        if same_file(out, src):
            raise ExportError(f"Refusing to write '{out}': it is an input of this export ({src}).")
    if not out.parent.is_dir():
        raise ExportError(f"Cannot write '{out}': folder '{out.parent}' does not exist.")
    info = probe(video)
    _check_space(out, info, options)

    # A fresh hidden name that ffmpeg creates itself (so the file gets the usual
    # permissions, unlike mkstemp's 0600), naming this process: if it is killed, its
    # ffmpeg dies with it and the next run removes the file (core.temp_files).
    tmp = temp_path_for(out)
    try:
        args = build_mux_args(video, dub_audio, tmp, muxer, options, info)
        try:
            proc = run_with_progress(args, info.duration_s, progress)
        except OSError as exc:
            raise ExportError(f"Could not run ffmpeg to write '{out}': {exc}") from exc
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", errors="replace")
            if "No space left on device" in stderr:
                tmp.unlink(missing_ok=True)  # the room it took is free again: say so
                raise _disk_full(out, info, options)
            if options.subtitles is not None and "Format not on whitelist" in stderr:
                raise ExportError(
                    f"Could not write '{out}': '{options.subtitles}' is not a subtitle "
                    "file that ffmpeg can add as a text track."
                )
            shown = {src: src for src in inputs} | {tmp: out}
            tail = ffmpeg_error_tail(stderr, shown=shown)
            raise ExportError(
                f"Could not write '{out}'.\nffmpeg said:\n"
                + "\n".join("  " + ln for ln in tail.splitlines())
            )
        try:
            os.replace(tmp, out)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                tmp.unlink(missing_ok=True)
                raise _disk_full(out, info, options) from exc
            raise ExportError(f"Could not move the finished export to '{out}': {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
