"""Extract a video's original audio once: a 48 kHz master and mono working copies.

Public API::

    extract_audio(video: Path, workdir: Path, stream_index: int | None = None)
        -> ExtractedAudio | None                  # None: the video has no audio stream
    MASTER_RATE, WORK_RATES                       # 48 kHz; the mono copies' 16k and 22.05k

    @dataclass ExtractedAudio: source, stream_index, duration_s, channels, channel_layout,
        master_path (48 kHz float WAV, original channels, round(duration*48000) samples),
        mono16k_path, mono22k_path (float mono working copies), num_samples;
        load_master() -> np.ndarray (whole: short clips only);
        load_mono16k() / load_mono22k() -> np.ndarray (mapped from the file: take slices)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.audio.samples import read_wav, samples_for
from core.audio.stream import wav_memmap
from core.media.probe import probe, require_video
from core.media.work_copies import WorkFile, exact_length, mono_copy_filter, write_work_files
from models.units import MIX_RATE

MASTER_RATE = MIX_RATE
WORK_RATES = (16000, 22050)
_CACHE_VERSION = 1


@dataclass
class ExtractedAudio:
    source: Path
    stream_index: int
    duration_s: float
    channels: int
    channel_layout: str | None
    master_path: Path  # 48 kHz float WAV, original channels
    mono16k_path: Path
    mono22k_path: Path
    num_samples: int  # master length == round(duration_s * 48000)
    sample_rate: int = MASTER_RATE

    def load_master(self) -> np.ndarray:  # whole: short clips only (the mix streams it)
        audio, _ = read_wav(self.master_path)
        return audio

    def load_mono16k(self) -> np.ndarray:  # mapped from the file: readers take slices
        return wav_memmap(self.mono16k_path)

    def load_mono22k(self) -> np.ndarray:
        return wav_memmap(self.mono22k_path)


def _source_key(video: Path, stream_index: int) -> dict:
    st = video.stat()
    return {
        "version": _CACHE_VERSION,
        "source": str(video.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "stream_index": stream_index,
    }


def _cached(manifest: Path, key: dict) -> ExtractedAudio | None:
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    try:
        ex = data["audio"]
        result = ExtractedAudio(
            **{
                **ex,
                "source": Path(ex["source"]),
                "master_path": Path(ex["master_path"]),
                "mono16k_path": Path(ex["mono16k_path"]),
                "mono22k_path": Path(ex["mono22k_path"]),
            }
        )
    except (KeyError, TypeError):
        return None
    paths = (result.master_path, result.mono16k_path, result.mono22k_path)
    return result if all(p.is_file() for p in paths) else None


def extract_audio(
    video: Path,
    workdir: Path,
    stream_index: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExtractedAudio | None:
    """Decode one audio stream once into a 48 kHz master and mono 16k/22.05k copies.

    The master keeps the original channels and has exactly round(duration * 48000)
    samples, where duration is the container's: ffmpeg's ``aresample=async=1:
    first_pts=0`` fills gaps and drops overlaps by timestamp, so a damaged stream
    cannot drift against the picture, then the tail is padded/trimmed. The working
    copies come from the same decode; ffmpeg writes all three to disk (never held) in
    temp files renamed once each holds its exact length (core/media/work_copies.py).
    Files are reused when ``workdir`` already holds them for the same input (path,
    size and mtime) and stream. Returns None for a video without audio.
    ``progress(done, total)`` follows ffmpeg's own report, in seconds of film; a full
    disk raises DiskSpaceError naming the folder and the room needed.
    """
    video = Path(video)
    info = probe(video)
    require_video(info)
    stream = info.audio_stream(stream_index)
    if stream is None:
        return None
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    key = _source_key(video, stream.index)
    stem = f"original_a{stream.index}"
    manifest = workdir / f"{stem}.json"
    hit = _cached(manifest, key)
    if hit is not None:
        return hit

    channels = stream.channels or 2
    n = samples_for(info.duration_s, MASTER_RATE)
    lengths = {rate: samples_for(n / MASTER_RATE, rate) for rate in WORK_RATES}
    master_path = workdir / f"{stem}_48k.wav"
    paths = {r: workdir / f"{stem}_{'16k' if r == 16000 else '22k'}_mono.wav" for r in WORK_RATES}
    graph = (
        f"[0:{stream.index}]aresample=async=1:first_pts=0,aresample={MASTER_RATE},"
        f"aformat=sample_fmts=flt,{exact_length(n)},asplit=3[master][w0][w1];"
        + ";".join(
            f"[w{i}]{mono_copy_filter(channels, stream.channel_layout, rate, lengths[rate])}"
            f"[out{i}]"
            for i, rate in enumerate(WORK_RATES)
        )
    )
    files = [
        WorkFile(master_path, "[master]", n, channels),
        *(WorkFile(paths[r], f"[out{i}]", lengths[r], 1) for i, r in enumerate(WORK_RATES)),
    ]
    write_work_files(video, graph, files, info.duration_s, progress)

    result = ExtractedAudio(
        source=video.resolve(),
        stream_index=stream.index,
        duration_s=info.duration_s,
        channels=channels,
        channel_layout=stream.channel_layout,
        master_path=master_path,
        mono16k_path=paths[16000],
        mono22k_path=paths[22050],
        num_samples=n,
    )
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
    tmp = manifest.with_suffix(".json.part")
    tmp.write_text(json.dumps({"key": key, "audio": record}, indent=1))
    os.replace(tmp, manifest)
    return result
