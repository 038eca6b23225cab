"""Vocoder (models.vocoder): parity with the official BigVGAN output, batching, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.parity import load_arrays
from models.vocoder import Vocoder


@pytest.fixture(autouse=True)
def _one_thread():
    # As the fixtures were made; also keeps this fast on a shared 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def voc(reference_dir: Path) -> Vocoder:
    return Vocoder.load(reference_dir / "checkpoints" / "bigvgan")


@pytest.fixture(scope="module")
def mel(reference_dir: Path) -> torch.Tensor:
    return torch.from_numpy(load_arrays(reference_dir, "vocoder")["mel"][0])


def test_vocoder_stage_matches_official(reference_dir: Path) -> None:
    from models.parity import stage_vocoder

    checks = stage_vocoder.run(reference_dir)
    assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]


def test_output_is_float32_clamped_and_frames_times_hop(voc: Vocoder, mel: torch.Tensor) -> None:
    loud = mel * 4.0  # drives the tiny random generator past full scale
    (wave,) = voc([loud])
    assert wave.dtype == np.float32 and wave.shape == (mel.size(-1) * 256,)
    assert np.abs(wave).max() <= 1.0
    assert np.isclose(np.abs(wave).max(), 1.0)  # the clamp is reached, not a tanh


def test_batch_of_different_lengths_equals_each_alone(voc: Vocoder, mel: torch.Tensor) -> None:
    m = voc.margin
    rows = [
        mel,
        torch.cat([mel, mel.flip(-1)], dim=-1),  # the longest row, no padding
        mel[:, : 2 * m + 5],  # just long enough for the spliced tail
        mel[:, :7],  # shorter than a tail window: redone whole
        mel[:, 3:10],  # same length as the previous one
        mel[None, :, :50],  # [1, 80, F] is accepted
    ]
    batched = voc(rows)
    for row, wave in zip(rows, batched, strict=True):
        alone = voc([row])[0]
        assert wave.shape == (row.size(-1) * 256,)
        np.testing.assert_allclose(wave, alone, atol=1e-5, rtol=0)


def test_without_exact_tails_only_the_end_differs(voc: Vocoder, mel: torch.Tensor) -> None:
    rows = [mel, torch.cat([mel, mel], dim=-1)]
    voc.exact_tails = False
    try:
        rough = voc(rows)[0]
    finally:
        voc.exact_tails = True
    exact = voc([mel])[0]
    head = (mel.size(-1) - voc.margin) * 256
    assert rough.shape == exact.shape
    np.testing.assert_allclose(rough[:head], exact[:head], atol=1e-5, rtol=0)
    # ...and the end does differ: the padding reaches it, which is what exact tails redo.
    # (0.51 measured on the tiny model; any splice that left it alone reads under 1e-5.)
    assert np.abs(rough[head:] - exact[head:]).max() > 1e-2


def test_empty_batch(voc: Vocoder) -> None:
    assert voc([]) == []


def test_cuda_kernel_request_on_cpu_falls_back(
    reference_dir: Path, voc: Vocoder, mel: torch.Tensor
) -> None:
    other = Vocoder.load(
        reference_dir / "checkpoints" / "bigvgan", device="cpu", use_cuda_kernel=True
    )
    np.testing.assert_array_equal(other([mel])[0], voc([mel])[0])


def test_loads_from_a_model_dir(tiny_model_dir: Path, voc: Vocoder, mel: torch.Tensor) -> None:
    other = Vocoder.load(tiny_model_dir / "indextts2" / "hf_cache" / "bigvgan")
    assert other.sampling_rate == 22050 and other.hop == 256
    np.testing.assert_array_equal(other([mel])[0], voc([mel])[0])


def test_unloadable_checkpoint_is_refused(reference_dir: Path, tmp_path: Path) -> None:
    src = reference_dir / "checkpoints" / "bigvgan"
    (tmp_path / "config.json").write_bytes((src / "config.json").read_bytes())
    state = torch.load(src / "bigvgan_generator.pt", map_location="cpu", weights_only=True)
    del state["generator"]["conv_pre.bias"]
    torch.save(state, tmp_path / "bigvgan_generator.pt")
    with pytest.raises(RuntimeError):
        Vocoder.load(tmp_path)
