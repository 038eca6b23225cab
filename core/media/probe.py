"""Probe media files and check that they are whole (ffprobe).

ffprobe runs through ffmpeg-python's ``ffmpeg.probe``; the packet scans of the integrity
check run through core.media.ffmpeg_tool, which also says how paths reach ffmpeg. probe()
refuses playlist formats outright (a "file" that only points at other files or URLs).

Public API::

    probe(path: Path, count_frames: bool = False) -> MediaInfo
    require_video(info: MediaInfo) -> StreamInfo  # MediaError: no picture to dub under
    check_integrity(info: MediaInfo) -> None      # MediaError: picture/sound stops early,
                                                  # or ffprobe reports errors near the end
    MediaError                                    # (core.media.ffmpeg_tool's) every failure here

    @dataclass MediaInfo: path, format_name, duration_s, size_bytes, bit_rate, start_time_s,
        streams: list[StreamInfo]; properties video, audio_streams, subtitle_streams,
        has_audio, fps, fps_fraction, frame_count; method audio_stream(index=None)
    @dataclass StreamInfo: index, kind ("video"|"audio"|"subtitle"|"data"|"attachment"),
        codec, language, title, default, duration_s, start_time_s, and per kind: width, height,
        fps, fps_fraction, avg_fps, avg_fps_fraction, frame_count; sample_rate, channels,
        channel_layout

The original audio is decoded by core.audio.original_audio.

``MediaInfo.duration_s`` is the container duration: the length the dubbed track and
the mixdown timeline are cut to.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg

from core.media.ffmpeg_tool import (
    MediaError,
    check_ffmpeg,
    describe_failure,
    ffmpeg_error_tail,
    ffmpeg_path,
    input_args,
    run_ffmpeg,
)

# Demuxers whose "file" only points at other files or at network streams.
_PLAYLIST_FORMATS = frozenset({"hls", "applehttp", "dash", "concat", "sdp", "webm_dash_manifest"})


def _parse_rate(text: str | None) -> tuple[float | None, str | None]:
    """'30000/1001' -> (29.97..., '30000/1001'); '0/0' or missing -> (None, None)."""
    if not text or text in ("0/0", "0/1"):
        return None, None
    try:
        frac = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None, None
    if frac <= 0:
        return None, None
    return float(frac), f"{frac.numerator}/{frac.denominator}"


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- probe


@dataclass
class StreamInfo:
    index: int  # absolute stream index in the file (for -map 0:<index>)
    kind: str  # video | audio | subtitle | data | attachment
    codec: str | None
    language: str | None = None
    title: str | None = None
    default: bool = False
    duration_s: float | None = None
    start_time_s: float | None = None  # first timestamp on the container's clock
    # video
    width: int | None = None
    height: int | None = None
    fps: float | None = None  # r_frame_rate
    fps_fraction: str | None = None
    avg_fps: float | None = None  # avg_frame_rate
    avg_fps_fraction: str | None = None
    frame_count: int | None = None
    attached_pic: bool = False
    # audio
    sample_rate: int | None = None
    channels: int | None = None
    channel_layout: str | None = None


@dataclass
class MediaInfo:
    path: Path
    format_name: str
    duration_s: float  # container duration
    size_bytes: int
    bit_rate: int | None
    start_time_s: float
    streams: list[StreamInfo] = field(default_factory=list)

    @property
    def video(self) -> StreamInfo | None:
        """The main picture (cover-art streams are not a picture)."""
        for s in self.streams:
            if s.kind == "video" and not s.attached_pic:
                return s
        return None

    @property
    def audio_streams(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == "audio"]

    @property
    def subtitle_streams(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == "subtitle"]

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_streams)

    @property
    def fps(self) -> float | None:
        v = self.video
        return (v.fps or v.avg_fps) if v else None

    @property
    def fps_fraction(self) -> str | None:
        v = self.video
        return (v.fps_fraction or v.avg_fps_fraction) if v else None

    @property
    def frame_count(self) -> int | None:
        v = self.video
        return v.frame_count if v else None

    def audio_stream(self, index: int | None = None) -> StreamInfo | None:
        """The audio stream with absolute index ``index``; default: the default-flagged
        one, else the first. None when there is no audio at all."""
        streams = self.audio_streams
        if index is not None:
            for s in streams:
                if s.index == index:
                    return s
            raise MediaError(f"'{self.path}' has no audio stream with index {index}.")
        if not streams:
            return None
        return next((s for s in streams if s.default), streams[0])


def _stream_from_json(js: dict) -> StreamInfo:
    tags = {k.lower(): v for k, v in (js.get("tags") or {}).items()}
    disp = js.get("disposition") or {}
    kind = js.get("codec_type", "data")
    lang = tags.get("language")
    info = StreamInfo(
        index=int(js["index"]),
        kind=kind,
        codec=js.get("codec_name"),
        language=None if lang in (None, "", "und") else lang,
        title=tags.get("title"),
        default=bool(disp.get("default")),
        duration_s=_float(js.get("duration")),
        start_time_s=_float(js.get("start_time")),
    )
    if kind == "video":
        info.width, info.height = _int(js.get("width")), _int(js.get("height"))
        info.fps, info.fps_fraction = _parse_rate(js.get("r_frame_rate"))
        info.avg_fps, info.avg_fps_fraction = _parse_rate(js.get("avg_frame_rate"))
        info.attached_pic = bool(disp.get("attached_pic"))
        # MP4 stores nb_frames; Matroska only via a statistics tag; counting packets
        # (probe(count_frames=True)) is exact but reads the whole file.
        frames = _int(js.get("nb_read_packets")) or _int(js.get("nb_frames"))
        if frames is None:
            for key, value in tags.items():
                if key.startswith("number_of_frames"):
                    frames = _int(value)
                    break
        info.frame_count = frames
        if info.duration_s is None:
            dur = tags.get("duration") or next(
                (v for k, v in tags.items() if k.startswith("duration")), None
            )
            info.duration_s = _parse_hms(dur)
    elif kind == "audio":
        info.sample_rate = _int(js.get("sample_rate"))
        info.channels = _int(js.get("channels"))
        info.channel_layout = js.get("channel_layout")
        if info.duration_s is None:
            info.duration_s = _parse_hms(tags.get("duration"))
    return info


def _parse_hms(text: str | None) -> float | None:
    """Matroska's 'HH:MM:SS.nnnnnnnnn' duration tag."""
    if not text:
        return None
    try:
        h, m, s = text.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def probe(path: Path, count_frames: bool = False) -> MediaInfo:
    """Streams and container facts of a media file.

    Raises MediaError for a missing file, a file ffprobe cannot read, or a file with
    no streams at all. ``count_frames`` counts video packets exactly (reads the file).
    """
    check_ffmpeg()
    path = Path(path)
    if not path.exists():
        raise MediaError(f"Media file not found: '{path}'.")
    if not path.is_file():
        raise MediaError(f"Not a file: '{path}'.")
    # ffmpeg.probe turns keywords into options placed before the file name.
    quiet = {"hide_banner": None, "loglevel": "error", "protocol_whitelist": "file"}
    kwargs = {"count_packets": None, "select_streams": "v"} if count_frames else {}
    target = ffmpeg_path(path)
    try:
        data = ffmpeg.probe(target, **quiet, **kwargs)
        if count_frames:  # select_streams limits the listing; probe again for all
            counted = {s["index"]: s.get("nb_read_packets") for s in data.get("streams", [])}
            data = ffmpeg.probe(target, **quiet)
            for s in data.get("streams", []):
                if s["index"] in counted:
                    s["nb_read_packets"] = counted[s["index"]]
    except ffmpeg.Error as exc:
        raise MediaError(describe_failure(path, "read", exc.stderr)) from exc
    except json.JSONDecodeError as exc:
        raise MediaError(f"Could not read '{path}': ffprobe gave no usable answer.") from exc
    fmt = data.get("format") or {}
    if _PLAYLIST_FORMATS.intersection(fmt.get("format_name", "").split(",")):
        raise MediaError(
            f"'{path}' is a playlist ({fmt['format_name']}), not a media file; "
            "Dubsmith reads only the file itself."
        )
    streams = [_stream_from_json(s) for s in data.get("streams", [])]
    if not streams:
        raise MediaError(f"'{path}' holds no audio or video streams (not a media file?).")
    duration = _float(fmt.get("duration"))
    if duration is None:
        known = [s.duration_s for s in streams if s.duration_s]
        duration = max(known) if known else 0.0
    return MediaInfo(
        path=path,
        format_name=fmt.get("format_name", ""),
        duration_s=duration,
        size_bytes=_int(fmt.get("size")) or path.stat().st_size,
        bit_rate=_int(fmt.get("bit_rate")),
        start_time_s=_float(fmt.get("start_time")) or 0.0,
        streams=streams,
    )


def require_video(info: MediaInfo) -> StreamInfo:
    """The picture stream, or MediaError: a dub needs a picture to sit under."""
    if info.video is None:
        raise MediaError(f"'{info.path}' has no video stream; Dubsmith dubs videos.")
    return info.video


# --------------------------------------------------------------------------- integrity

# A stream may end this much before its declared end (audio often ends a few frames
# early): max(_END_SLACK_S, _END_SLACK_FRACTION * duration), but never more than
# _END_SLACK_MAX_S, so a long film missing its last minutes is still caught.
_END_SLACK_S = 0.5
_END_SLACK_FRACTION = 0.02
_END_SLACK_MAX_S = 3.0
# Seconds of packets read per look; longer than a usual keyframe interval, since a
# seek lands on the keyframe before the asked time.
_WINDOW_S = 10.0


def _packet_ends(
    path: Path, start_s: float, span_s: float | None = None
) -> tuple[dict[int, float], list[str]]:
    """Per stream index, the latest packet end (pts + duration, container clock) among the
    packets from ``start_s`` (to EOF, or for ``span_s`` seconds), and ffprobe's error lines.

    Packets are listed, never decoded, after a seek through the index: the cost is the
    window's bytes, not the file's.
    """
    interval = f"{start_s:.3f}%" + (f"+{span_s:.3f}" if span_s is not None else "")
    args = [
        "ffprobe", "-hide_banner", "-loglevel", "error",
        "-read_intervals", interval,
        "-show_entries", "packet=stream_index,pts_time,dts_time,duration_time",
        "-of", "json", *input_args(path),
    ]  # fmt: skip
    proc = run_ffmpeg(args, path, "read", stdout=subprocess.PIPE)
    try:
        packets = json.loads(proc.stdout or b"{}").get("packets", [])
    except json.JSONDecodeError as exc:
        raise MediaError(f"Could not read '{path}': ffprobe gave no usable answer.") from exc
    ends: dict[int, float] = {}
    for pkt in packets:
        t = _float(pkt.get("pts_time"))
        t = _float(pkt.get("dts_time")) if t is None else t  # AVI and raw streams: dts only
        if t is None:
            continue
        end = t + (_float(pkt.get("duration_time")) or 0.0)
        index = int(pkt["stream_index"])
        ends[index] = max(end, ends.get(index, end))
    errors = ffmpeg_error_tail(proc.stderr, lines=3, shown={path: path}).splitlines()
    return ends, errors


def _data_ends(path: Path, wanted: set[int], lo: float, hi: float) -> dict[int, float]:
    """Where the data of the streams ``wanted`` stops, given none has packets from ``hi``
    on: bisect on "packets after a seek to t", then read the last stretch to EOF. About
    log2(hi / 10 s) short looks (10 for two hours), each a seek and 10 s of packets.
    Streams absent from the answer have no packets at all."""
    while hi - lo > _WINDOW_S:
        mid = (lo + hi) / 2
        found = _packet_ends(path, mid, _WINDOW_S)[0]
        ends = {i: t for i, t in found.items() if i in wanted}
        if not ends:
            hi = mid
        elif max(ends.values()) < mid + _WINDOW_S / 2:  # the data ran out inside this look
            return ends
        else:
            lo = mid
    return {i: t for i, t in _packet_ends(path, lo)[0].items() if i in wanted}


def check_integrity(info: MediaInfo) -> None:
    """Raise MediaError when the picture or sound of ``info.path`` stops well before its
    declared end, or ffprobe reports errors while reading the file's last seconds.

    A file cut short (an interrupted download or copy) with its index at the front
    still declares its full duration, and ffmpeg renders it without complaint: the dub
    would have a picture that stops half way. Only the end is read (a seek, then
    ``_WINDOW_S`` of packets, without decoding), so the cost does not grow with the
    file; only a damaged file costs a few more seeks to find where its data stops.
    Damage in the middle of a file is not looked for (that needs a full read).
    """
    duration = info.duration_s
    if not duration or duration <= 0:
        return
    streams = [s for s in info.streams if s.kind == "audio"]
    if info.video is not None:
        streams.insert(0, info.video)
    if not streams:
        return
    origin = info.start_time_s
    tail_start = max(0.0, origin + duration - _WINDOW_S)
    ends, errors = _packet_ends(info.path, tail_start)
    # Streams without packets in the last seconds: find where they stop (one search
    # serves all of them when the file is simply cut short).
    pending = {s.index for s in streams} - ends.keys()
    while pending:
        found = _data_ends(info.path, pending, origin, tail_start)
        ends.update(found or dict.fromkeys(pending, origin))  # none: no packets at all
        pending -= ends.keys()
    slack = max(_END_SLACK_S, min(_END_SLACK_FRACTION * duration, _END_SLACK_MAX_S))
    short: list[tuple[StreamInfo, float, float]] = []  # (stream, stops at, should end at)
    for s in streams:
        expected = duration
        if s.duration_s:  # a stream declared shorter (a short music track) is no damage
            start = s.start_time_s if s.start_time_s is not None else origin
            expected = min(duration, start - origin + s.duration_s)
        end = ends[s.index]
        if end - origin < expected - slack:
            short.append((s, max(0.0, end - origin), expected))
    if short:
        raise MediaError(
            f"'{info.path}': the file is damaged or incomplete: {_stops(short)}; "
            "re-download or re-export it."
        )
    if errors:
        raise MediaError(
            f"'{info.path}': the file is damaged or incomplete (ffprobe reports errors "
            f"near its end: {errors[0]}); re-download or re-export it."
        )


def _stops(short: list[tuple[StreamInfo, float, float]]) -> str:
    """'its picture stops at 11.8 s of 24.0 s' / 'its picture and sound stop at ...'."""
    several = sum(s.kind == "audio" for s, _, _ in short) > 1  # then say which track
    names = [
        "picture" if s.kind == "video" else f"sound (stream {s.index})" if several else "sound"
        for s, _, _ in short
    ]
    ends = [end for _, end, _ in short]
    expected = {f"{x:.1f}" for _, _, x in short}
    if max(ends) - min(ends) <= _END_SLACK_S and len(expected) == 1:  # one cut, all streams
        verb = "stops" if len(short) == 1 else "stop"
        return f"its {' and '.join(names)} {verb} at {min(ends):.1f} s of {expected.pop()} s"
    return "; ".join(
        f"its {name} stops at {end:.1f} s of {x:.1f} s"
        for name, (_, end, x) in zip(names, short, strict=True)
    )
