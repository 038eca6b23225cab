"""Speaker style (Kaldi fbank + CAMPPlus) against the reference fixtures and by its properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.parity import load_arrays, run_stage
from models.parity.keys_semantic import checks as key_checks
from models.parity.keys_semantic import compare_state
from models.speaker import CAMPPlus, SpeakerStyle, kaldi_fbank


@pytest.fixture(scope="module")
def style(reference_dir) -> SpeakerStyle:
    return SpeakerStyle.load(reference_dir / "checkpoints" / "campplus_cn_common.bin")


@pytest.fixture(scope="module")
def wav(reference_dir) -> np.ndarray:
    return load_arrays(reference_dir, "campplus")["wav_16k"]


def test_campplus_stage_matches_reference(reference_dir):
    torch.set_num_threads(1)
    failed = [c for c in run_stage(reference_dir, "campplus") if not c.passed]
    assert not failed, failed


def test_fbank_shape_and_mean(wav):
    for n in (400, 401, 16000, len(wav)):
        feats = kaldi_fbank(wav[:n])
        assert feats.shape == (1 + (n - 400) // 160, 80)
        assert feats.dtype == torch.float32
        assert torch.allclose(feats.mean(0), torch.zeros(80), atol=1e-4)
    raw = kaldi_fbank(wav, subtract_mean=False)
    assert torch.allclose(raw - raw.mean(0, keepdim=True), kaldi_fbank(wav))


def test_fbank_accepts_tensors(wav):
    assert torch.equal(kaldi_fbank(torch.from_numpy(wav)), kaldi_fbank(wav))


@pytest.mark.parametrize("batched", [True, False, None])
def test_batched_styles_equal_single_prompts(style, wav, batched):
    # Lengths chosen to cover: a partial 100-frame CAM segment, odd and even frame counts
    # after the stride-2 TDNN, and a prompt shorter than one segment.
    prompts = [wav[:9000], wav, wav[4000:25000], wav[1000:33333]]
    batch = style(prompts, batched=batched)
    assert batch.shape == (len(prompts), 192)
    for i, p in enumerate(prompts):
        single = style(p)
        assert single.shape == (1, 192)
        np.testing.assert_allclose(batch[i].numpy(), single[0].numpy(), atol=1e-5)
    # Padding really changes the unmasked result, so the masks are doing the work.
    padded = torch.nn.functional.pad(kaldi_fbank(prompts[0]), (0, 0, 0, 300))[None]
    assert not torch.allclose(style.from_fbank(padded), style(prompts[0]), atol=1e-3)


def test_loading_is_strict(reference_dir, tmp_path):
    state = torch.load(reference_dir / "checkpoints" / "campplus_cn_common.bin", weights_only=True)
    state["xvector.extra.weight"] = torch.zeros(1)
    bad = tmp_path / "extra.bin"
    torch.save(state, bad)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        SpeakerStyle.load(bad)


def test_key_checks_pass(reference_dir):
    failed = [c for c in key_checks(reference_dir) if not c.passed]
    assert not failed, failed


def test_key_check_detects_a_wrong_model(reference_dir):
    with torch.device("meta"):
        wrong = CAMPPlus(feat_dim=80, embedding_size=128)
    results = {
        c.name: c.passed
        for c in compare_state("campplus", wrong, reference_dir / "keys" / "campplus.json")
    }
    assert results["campplus_missing_keys"] and not results["campplus_shapes_dtypes"]
    assert not results["campplus_parameter_total"]
