"""Dialogue and background stems of the original soundtrack (demucs, loaded offline).

The dub should sit over the original's music and effects, not over its actors: the
48 kHz master (full band, original channels; never the 16 kHz working copy) is split by
a demucs model into its "vocals" source (the dialogue stem) and the sum of the others
(the background stem). Both stems come back at the master's rate, channel count and
exact length, so the mixer places the dub over the background sample for sample.

The model folder (`<model dir>/separation/`) is laid out like a demucs 4.1 repository
on the Hugging Face hub (adefossez/HTDemucs): a bag file `NAME.yaml` naming the models
(`models: [955717e8]`, optional `weights`, `segment`) and one `SIG.safetensors` per model,
whose metadata holds the model's class and init arguments as JSON. Nothing is unpickled
and nothing is downloaded: the class must be one of demucs' own separation networks and
the weights load strictly.

Separation runs window by window (30 s, 1 s linear crossfades), so the job reports
progress and honours cancel between windows. The stems are cached in the video's work
folder under a key made of the master's content hash and the model's identity (a hash of
its files): a re-export, or a second dub with other settings, does not separate again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from core.audio.original_audio import MASTER_RATE
from core.audio.samples import downmix_mono, read_wav, resample_to_length, samples_for
from core.audio.stream import open_writer, wav_memmap
from core.lines.render import Cancelled
from core.media.ffmpeg_tool import MediaError, ffmpeg_path, input_args, run_ffmpeg
from core.media.work_copies import FLOAT_WAV, frames_problem, mono_copy_filter, part_path

FOLDER = "separation"
DIALOGUE_SOURCE = "vocals"
PREFERRED_BAG = "htdemucs"  # several bags in the folder: this one, if it is there
# demucs' own separation networks; a model file naming any other class is refused, so a
# file's metadata can never make us import and call something else.
ALLOWED_CLASSES = frozenset(
    {"demucs.htdemucs.HTDemucs", "demucs.hdemucs.HDemucs", "demucs.demucs.Demucs"}
)
_CACHE_VERSION = 1
_WORK_RATES = (
    16000,
    22050,
)  # the mono copies of the dialogue stem, as core.audio.original_audio makes

ProgressFn = Callable[[int, int], None]


class SeparationUnavailable(Exception):
    """The separation model cannot be used; the message says why and what to do."""


class SeparationNotInstalled(SeparationUnavailable):
    """There is no separation folder at all (the usual case, not a fault)."""


@dataclass(frozen=True)
class SeparationModel:
    """The files of a separation model in the model directory (not loaded)."""

    folder: Path
    bag: Path  # NAME.yaml
    weights: tuple[Path, ...]  # one SIG.safetensors per model of the bag
    identity: str  # hash of the bag and weight files: what the stem cache keys on

    @property
    def name(self) -> str:
        return self.bag.stem


def _bag_signatures(bag: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(bag.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SeparationUnavailable(f"{bag} cannot be read: {exc}") from exc
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise SeparationUnavailable(
            f"{bag} is not a demucs bag file (it needs `models: [SIGNATURE, ...]`)"
        )
    return models


def _file_hash(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def find_model(model_dir: Path) -> SeparationModel:
    """The separation model of `model_dir`, checked for completeness (not loaded).
    Raises SeparationUnavailable saying what is missing and how to get it."""
    folder = Path(model_dir) / FOLDER
    fetch = f"dubsmith models download separation --model-dir {model_dir}"
    if not folder.is_dir():
        raise SeparationNotInstalled(f"no separation model in {folder} ({fetch})")
    bags = sorted(folder.glob("*.yaml"))
    if not bags:
        raise SeparationUnavailable(f"{folder} has no demucs bag file (NAME.yaml); {fetch}")
    preferred = [b for b in bags if b.stem == PREFERRED_BAG]
    if len(bags) > 1 and not preferred:
        names = ", ".join(b.name for b in bags)
        raise SeparationUnavailable(
            f"{folder} holds several bag files ({names}); keep one, or {PREFERRED_BAG}.yaml"
        )
    bag = (preferred or bags)[0]
    weights = tuple(folder / f"{sig}.safetensors" for sig in _bag_signatures(bag))
    missing = [w.name for w in weights if not w.is_file()]
    if missing:
        raise SeparationUnavailable(
            f"{folder} lacks {', '.join(missing)} (named by {bag.name}); {fetch}"
        )
    sha = hashlib.sha256(f"demucs:{bag.name}\n".encode())
    sha.update(bag.read_bytes())
    for w in weights:
        sha.update(_file_hash(w).encode())
    return SeparationModel(folder, bag, weights, sha.hexdigest())


def _decode(value: Any) -> Any:
    """demucs' JSON for init arguments: fractions (HTDemucs' `segment`) are tagged."""
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(int(value["numerator"]), int(value["denominator"]))
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _load_network(path: Path):
    """One demucs network from a safetensors file: class and arguments from its metadata
    (checked against ALLOWED_CLASSES), weights loaded strictly."""
    import importlib

    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - not a dict
    except Exception as exc:  # noqa: BLE001 - a damaged file, whatever safetensors says
        raise SeparationUnavailable(f"{path} is not a readable safetensors file: {exc}") from exc
    klass_name = meta.get("klass")
    if klass_name not in ALLOWED_CLASSES:
        raise SeparationUnavailable(
            f"{path} names the class {klass_name!r}; only demucs' own networks load "
            f"({', '.join(sorted(ALLOWED_CLASSES))})"
        )
    if "structure" in meta:  # diffq-quantised states (mdx_q, ...): another dependency
        raise SeparationUnavailable(
            f"{path} holds a quantised model; use an unquantised one such as htdemucs"
        )
    module, name = klass_name.rsplit(".", 1)
    klass = getattr(importlib.import_module(module), name)
    try:
        args = _decode(json.loads(meta.get("args", "[]")))
        kwargs = _decode(json.loads(meta.get("kwargs", "{}")))
        # As demucs' own loader: arguments an older training run recorded that the class
        # no longer takes are left out (the weights below still load strictly).
        known = inspect.signature(klass).parameters
        kwargs = {k: v for k, v in kwargs.items() if k in known}
        network = klass(*args, **kwargs)
        network.load_state_dict(state, strict=True)
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise SeparationUnavailable(f"{path} does not load into {name}: {exc}") from exc
    return network.eval()


def level(read: Callable[[int, int], np.ndarray], n: int, block: int = 1 << 20):
    """(mean, standard deviation) of the mono downmix of the `n` samples `read` gives,
    a block at a time (float64 sums: a film is long)."""
    total = squares = 0.0
    for a in range(0, n, block):
        mono = downmix_mono(read(a, min(a + block, n))).astype(np.float64)
        total += float(mono.sum())
        squares += float(np.square(mono).sum())
    if n == 0:
        return 0.0, 0.0
    mean = total / n
    return mean, float(np.sqrt(max(squares / n - mean * mean, 0.0)))


class Separator:
    """A loaded demucs bag on one device; `separate` splits a master into stems."""

    def __init__(self, bag, device: str, model: SeparationModel | None = None) -> None:
        self.bag = bag.eval()
        self.device = device
        self.model = model
        self.samplerate = int(bag.samplerate)
        self.audio_channels = int(bag.audio_channels)
        sources = list(bag.sources)
        if DIALOGUE_SOURCE not in sources:
            raise SeparationUnavailable(
                f"the separation model has no '{DIALOGUE_SOURCE}' source ({sources})"
            )
        self.dialogue_index = sources.index(DIALOGUE_SOURCE)

    @classmethod
    def load(cls, model: SeparationModel, device: str = "cpu") -> Separator:
        try:
            from demucs.apply import BagOfModels
        except ImportError as exc:  # pragma: no cover - a dependency
            raise SeparationUnavailable(
                f"demucs is not installed ({exc}); install Dubsmith's dependencies"
            ) from exc
        import yaml

        networks = [_load_network(w) for w in model.weights]
        bag_info = yaml.safe_load(model.bag.read_text()) or {}
        try:
            bag = BagOfModels(networks, bag_info.get("weights"), bag_info.get("segment"))
        except AssertionError as exc:  # demucs checks the bag's models agree
            raise SeparationUnavailable(f"{model.bag}: the models do not agree ({exc})") from exc
        return cls(bag, device, model)

    # -- the work -------------------------------------------------------------------------

    def separate(
        self,
        master: np.ndarray,
        rate: int,
        *,
        window_s: float = 30.0,
        overlap_s: float = 1.0,
        progress: ProgressFn | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(dialogue, background), each with the master's shape (n,) or (n, channels).
        See `blocks` for the windows; this gathers them in memory."""
        x = np.asarray(master, dtype=np.float32)
        flat = x.ndim == 1
        x = x[:, None] if flat else x
        parts = list(
            self.blocks(
                lambda a, b: x[a:b],
                x.shape[0],
                rate,
                level(lambda a, b: x[a:b], x.shape[0]),
                window_s=window_s,
                overlap_s=overlap_s,
                progress=progress,
                cancelled=cancelled,
            )
        )
        dialogue = np.concatenate([d for d, _ in parts]) if parts else np.zeros_like(x)
        background = np.concatenate([b for _, b in parts]) if parts else np.zeros_like(x)
        return (dialogue[:, 0], background[:, 0]) if flat else (dialogue, background)

    def blocks(
        self,
        read: Callable[[int, int], np.ndarray],
        n: int,
        rate: int,
        mean_std: tuple[float, float],
        *,
        window_s: float = 30.0,
        overlap_s: float = 1.0,
        progress: ProgressFn | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stems of the `n` samples that `read(a, b)` gives ((b - a, channels) at
        `rate`), as finished (dialogue, background) blocks in order: a film's stems are
        written as they come, never held whole.

        Windows of `window_s` overlap by `overlap_s` on each side and are crossfaded
        linearly there, so the model's and the resampler's edges never reach the output.
        `mean_std` is the whole track's level (see `level`), so every window is scaled
        alike, as demucs normalises. Cancel is checked before each window (Cancelled)."""
        mean, std = mean_std
        step = max(int(round(window_s * rate)), 1)
        fade = min(int(round(overlap_s * rate)), step // 2)
        starts = list(range(0, n, step))
        ramp = ((np.arange(2 * fade, dtype=np.float32) + 0.5) / (2 * fade))[:, None]
        carry: tuple[np.ndarray, np.ndarray] | None = None
        for k, s in enumerate(starts):
            if cancelled is not None and cancelled():
                raise Cancelled("cancelled during separation")
            if progress is not None:
                progress(k, len(starts))
            last = k == len(starts) - 1
            a, b = max(s - fade, 0), min(s + step + fade, n)
            seg = read(a, b)
            if std < 1e-7:  # silence: nothing to take apart
                dlg, bg = np.zeros_like(seg), seg.astype(np.float32, copy=True)
            else:
                dlg, bg = self._window(seg, rate, mean, std)
            weight = np.ones((b - a, 1), dtype=np.float32)
            if k > 0 and fade:  # in over [s - fade, s + fade), as the last one fades out
                weight[: 2 * fade] = ramp[: min(2 * fade, b - a)]
            if not last and fade:  # out over [next - fade, next + fade)
                o = s + step - fade - a
                weight[o:] *= 1.0 - ramp[: b - a - o]
            dlg *= weight
            bg *= weight
            if carry is not None:  # the last window's tail, over this one's head
                m = carry[0].shape[0]
                dlg[:m] += carry[0]
                bg[:m] += carry[1]
            # Final up to where the next window begins; the rest waits for its fade in.
            cut = b - a if last else s + step - fade - a
            yield dlg[:cut], bg[:cut]
            carry = (dlg[cut:], bg[cut:])
        if progress is not None:
            progress(len(starts), len(starts))

    def _groups(self, channels: int) -> list[list[int]]:
        """The master's channels in groups the model takes (pairs for a stereo model):
        mono is doubled, an odd last channel is paired with itself."""
        size = self.audio_channels
        groups = []
        for c in range(0, channels, size):
            group = list(range(c, min(c + size, channels)))
            while len(group) < size:
                group.append(group[-1])
            groups.append(group)
        return groups

    def _window(
        self, seg: np.ndarray, rate: int, mean: float, std: float
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch
        from demucs.apply import apply_model

        m, channels = seg.shape
        sr = self.samplerate
        length = max(int(round(m * sr / rate)), 1)
        at_model_rate = resample_to_length(seg, rate, sr, length)
        groups = self._groups(channels)
        batch = np.stack([at_model_rate[:, g].T for g in groups])  # (G, model ch, t)
        mix = torch.from_numpy((batch - mean) / std)
        with torch.inference_mode():
            out = apply_model(
                self.bag, mix, shifts=0, split=True, overlap=0.25, progress=False,
                device=self.device,
            )  # fmt: skip
        out = out.float().cpu().numpy() * std  # (G, sources, model ch, t)
        voc = out[:, self.dialogue_index]
        rest = out.sum(axis=1) - voc + mean  # the level's offset stays with the background
        dlg = np.zeros((length, channels), dtype=np.float32)
        bg = np.zeros((length, channels), dtype=np.float32)
        seen = np.zeros(channels, dtype=np.float32)
        for gi, group in enumerate(groups):
            for j, c in enumerate(group):  # a doubled channel: the mean of its two copies
                dlg[:, c] += voc[gi, j]
                bg[:, c] += rest[gi, j]
                seen[c] += 1
        dlg /= seen
        bg /= seen
        return resample_to_length(dlg, sr, rate, m), resample_to_length(bg, sr, rate, m)


# --- the stems of one master, cached -------------------------------------------------------


@dataclass
class Stems:
    """The separated stems of one master, as files in the work folder."""

    dialogue_path: Path  # master rate, master channels
    background_path: Path
    dialogue16k_path: Path  # mono copies, for word timing, voices and prompts
    dialogue22k_path: Path
    sample_rate: int
    channels: int
    model: str  # the bag's name, e.g. "htdemucs"
    cached: bool = False  # found in the cache, not separated by this run

    def load_background(self) -> np.ndarray:
        return read_wav(self.background_path)[0]

    def load_dialogue(self) -> np.ndarray:
        return read_wav(self.dialogue_path)[0]

    def load_dialogue_mono16k(self) -> np.ndarray:
        """Mapped from its file: readers take slices (core.audio.stream)."""
        return wav_memmap(self.dialogue16k_path)

    def load_dialogue_mono22k(self) -> np.ndarray:
        return wav_memmap(self.dialogue22k_path)


def master_hash(master_path: Path, cache_dir: Path | None = None) -> str:
    """The master's content hash. A film's master is gigabytes (seconds to hash), so the
    hash is kept in `cache_dir` beside the stems, valid while the file's size and
    modification time stay the same."""
    st = master_path.stat()
    stamp = {"path": str(master_path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    record = Path(cache_dir) / "master.json" if cache_dir is not None else None
    if record is not None:
        try:
            data = json.loads(record.read_text())
            if data.get("stamp") == stamp and isinstance(data.get("sha256"), str):
                return data["sha256"]
        except (OSError, ValueError):
            pass
    sha = _file_hash(master_path)
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".json.part")
        tmp.write_text(json.dumps({"stamp": stamp, "sha256": sha}))
        os.replace(tmp, record)
    return sha


def stem_key(master_path: Path, model: SeparationModel, cache_dir: Path | None = None) -> str:
    """What the stems depend on: the master's content and the model's files."""
    text = json.dumps(
        {
            "version": _CACHE_VERSION,
            "master": master_hash(master_path, cache_dir),
            "model": model.identity,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _cached(folder: Path, key: str) -> Stems | None:
    try:
        data = json.loads((folder / "stems.json").read_text())
        if data.get("key") != key:
            return None
        # Names inside the entry's folder: the cache may move with DUBSMITH_CACHE_DIR.
        stems = Stems(
            **{k: folder / v if k.endswith("_path") else v for k, v in data["stems"].items()}
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    paths = (stems.dialogue_path, stems.background_path)
    if not all(p.is_file() for p in (*paths, stems.dialogue16k_path, stems.dialogue22k_path)):
        return None
    stems.cached = True
    return stems


def write_mono_copies(
    source: Path, channels: int, layout: str | None, targets: Mapping[int, Path], what: str
) -> dict[int, Path]:
    """Working copies (rate -> path) of a 48 kHz WAV, streamed by ffmpeg to temp files and
    renamed when whole; each has round(frames * rate / 48000) samples."""
    frames = sf.info(str(source)).frames
    graph = f"asplit={len(targets)}" + "".join(f"[w{i}]" for i in range(len(targets))) + ";"
    graph += ";".join(
        f"[w{i}]{mono_copy_filter(channels, layout, r, samples_for(frames / MASTER_RATE, r))}"
        f"[out{i}]"
        for i, r in enumerate(targets)
    )
    parts = {r: part_path(p) for r, p in targets.items()}
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *input_args(source)]
    args += ["-filter_complex", graph]
    for i, r in enumerate(targets):
        args += ["-map", f"[out{i}]", *FLOAT_WAV, ffmpeg_path(parts[r])]
    try:
        run_ffmpeg(args, source, what)
        for r in targets:
            if problem := frames_problem(parts[r], samples_for(frames / MASTER_RATE, r)):
                raise MediaError(f"Could not {what} '{source}': {problem}.")
        for r, path in targets.items():
            os.replace(parts[r], path)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
    return dict(targets)


def separate_master(
    master_path: Path,
    model: SeparationModel,
    cache_dir: Path,
    *,
    device: str = "cpu",
    layout: str | None = None,
    progress: ProgressFn | None = None,
    cancelled: Callable[[], bool] | None = None,
    separator: Separator | None = None,
    window_s: float = 30.0,
) -> Stems:
    """The stems of the master at `master_path`, from the cache when the same master was
    separated by the same model before, else separated now (the model loaded on `device`
    unless a loaded `separator` is given) and cached. Older entries are removed: a film's
    stems are gigabytes, and one video has one master."""
    master_path, cache_dir = Path(master_path), Path(cache_dir)
    key = stem_key(master_path, model, cache_dir)
    folder = cache_dir / key[:24]
    hit = _cached(folder, key)
    if hit is not None:
        return hit
    separator = separator or Separator.load(model, device)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {name: folder / f".{name}.wav.part" for name in ("dialogue", "background")}
    try:
        with sf.SoundFile(master_path) as src:
            rate, channels, n = src.samplerate, src.channels, src.frames

            def read(a: int, b: int) -> np.ndarray:
                src.seek(a)
                return src.read(b - a, dtype="float32", always_2d=True)

            with (
                open_writer(parts["dialogue"], rate, channels, n) as d,
                open_writer(parts["background"], rate, channels, n) as g,
            ):
                for dialogue, background in separator.blocks(
                    read,
                    n,
                    rate,
                    level(read, n),
                    window_s=window_s,
                    progress=progress,
                    cancelled=cancelled,
                ):
                    d.write(dialogue)
                    g.write(background)
        # The dialogue's working copies, streamed by ffmpeg from the stem on disk.
        copies = write_mono_copies(
            parts["dialogue"],
            channels,
            layout,
            {r: folder / f"dialogue_{r}_mono.wav" for r in _WORK_RATES},
            "make the working copies of the dialogue of",
        )
    except BaseException:
        for part in parts.values():
            part.unlink(missing_ok=True)
        raise
    for name, part in parts.items():
        os.replace(part, folder / f"{name}.wav")
    stems = Stems(
        dialogue_path=folder / "dialogue.wav",
        background_path=folder / "background.wav",
        dialogue16k_path=copies[16000],
        dialogue22k_path=copies[22050],
        sample_rate=rate,
        channels=channels,
        model=model.name,
    )
    record = {k: v.name if isinstance(v, Path) else v for k, v in asdict(stems).items()}
    record.pop("cached")
    tmp = folder / "stems.json.part"
    tmp.write_text(json.dumps({"key": key, "stems": record}, indent=1))
    os.replace(tmp, folder / "stems.json")  # written last: the entry is whole or absent
    for other in cache_dir.iterdir():
        if other.is_dir() and other != folder:
            shutil.rmtree(other, ignore_errors=True)
    return stems
