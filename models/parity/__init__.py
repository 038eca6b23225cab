"""Parity checks of our IndexTTS2 implementation against official reference fixtures.

A fixture directory is laid out like ../shared/reference (one folder per stage with
manifest.json, inputs.npz and outputs.npz, plus checkpoints/ and keys/). Each stage lives in
its own module `models.parity.stage_<name>` exposing `run(root: Path) -> list[Check]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STAGES: tuple[str, ...] = (
    "keys",
    "text",
    "gpt",
    "emotion",
    "semantic",
    "campplus",
    "mel",
    "s2m",
    "vocoder",
    "e2e",
)
# The IndexTTS-2.5 set (../shared/reference25): its own stage modules `stage25_<name>`.
STAGES25: tuple[str, ...] = (
    "keys",
    "text",
    "gpt",
    "codec",
    "emotion",
    "campplus",
    "mel",
    "s2m",
    "vocoder",
    "e2e",
)

DEFAULT_TOL = 1e-4


def is_set25(root: Path) -> bool:
    """A 2.5 fixture set: its checkpoints hold the 2.5 codec and tiktoken vocabulary (the
    top-level manifest says "reference25" too, but a copy may have lost it)."""
    ckpt = Path(root) / "checkpoints"
    return (ckpt / "codec.pth").is_file() and any(ckpt.glob("*.tiktoken"))


def stages_for(root: Path) -> tuple[str, ...]:
    return STAGES25 if is_set25(root) else STAGES


@dataclass
class Check:
    stage: str
    name: str
    max_abs_diff: float  # 0 for exact (integer / key) comparisons that matched
    tolerance: float
    passed: bool
    detail: str = ""


def compare(stage: str, name: str, ours, expected, tol: float = DEFAULT_TOL) -> Check:
    """Max-abs-diff check of two arrays (tensors are converted); shapes must agree."""
    a = _to_numpy(ours)
    b = _to_numpy(expected)
    if a.shape != b.shape:
        return Check(stage, name, float("inf"), tol, False, f"shape {a.shape} != {b.shape}")
    if a.size == 0:
        return Check(stage, name, 0.0, tol, True)
    if np.issubdtype(b.dtype, np.integer) or b.dtype == bool:
        diff = float(np.max(np.abs(a.astype(np.int64) - b.astype(np.int64))))
        return Check(stage, name, diff, 0.0, diff == 0.0, "" if diff == 0 else "integers differ")
    diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    return Check(stage, name, diff, tol, bool(diff <= tol))


def exact(stage: str, name: str, ok: bool, detail: str = "") -> Check:
    return Check(stage, name, 0.0 if ok else float("inf"), 0.0, ok, detail)


# The end of a whole-chain run, as the official infer() writes it: BigVGAN's wave, the
# clamped 32767 * wave, the int16 file (within one LSB) and the engine's own audio.
WAVE_TOL = 1e-4  # BigVGAN output in [-1, 1]
CLAMPED_TOL = 0.05  # 32767 * wave, float
INT16_LSB = 1.0


def waveform_checks(
    stage: str, name: str, wave, expected: dict[str, np.ndarray], pre: str, engine_audio
) -> list[Check]:
    """`name` has one {} for the array's name; `pre` prefixes the reference arrays."""
    out = [
        compare(
            stage,
            name.format("bigvgan_out"),
            wave[None, None],
            expected[pre + "bigvgan_out"],
            WAVE_TOL,
        )  # fmt: skip
    ]
    clamped = np.clip(32767.0 * _to_numpy(wave).astype(np.float32), -32767.0, 32767.0)
    out.append(
        compare(
            stage,
            name.format("wav_clamped"),
            clamped[None],
            expected[pre + "wav_clamped"],
            CLAMPED_TOL,
        )  # fmt: skip
    )
    int16 = clamped.astype(np.int16)[:, None]  # torch .type(int16) truncates toward zero too
    out.append(
        compare(
            stage,
            name.format("wav_int16 (LSB)"),
            int16.astype(np.float64),
            expected[pre + "wav_int16"].astype(np.float64),
            INT16_LSB,
        )
    )
    out.append(
        exact(
            stage,
            name.format("engine audio = BigVGAN output (free mode: no fitting)"),
            engine_audio is not None and np.array_equal(engine_audio, wave),
        )
    )
    return out


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def load_arrays(root: Path, folder: str) -> dict[str, np.ndarray]:
    """All arrays of a fixture folder (inputs and outputs merged; names are unique)."""
    out: dict[str, np.ndarray] = {}
    for fname in ("inputs.npz", "outputs.npz"):
        p = Path(root) / folder / fname
        if p.exists():
            with np.load(p) as z:
                out.update({k: z[k] for k in z.files})
    return out


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """The fixtures were made with one torch thread, which orders float sums as they were."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_stage(root: Path, stage: str, threads: int = 1) -> list[Check]:
    import importlib

    prefix = "stage25_" if is_set25(root) else "stage_"
    module = importlib.import_module(f"models.parity.{prefix}{stage}")
    with torch_threads(threads):
        return module.run(Path(root))
