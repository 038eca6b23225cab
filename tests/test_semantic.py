"""Semantic features (w2v-BERT layer 17) and the MaskGCT semantic codec against the
reference fixtures and by their properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from models.parity import load_arrays, run_stage
from models.semantic import (
    SemanticCodec,
    SemanticEncoder,
    WNConv1d,
    codec_config_from_state,
    load_codec_config,
)


@pytest.fixture(scope="module")
def encoder(reference_dir) -> SemanticEncoder:
    ckpt = reference_dir / "checkpoints"
    return SemanticEncoder.load(ckpt / "w2v-bert-2.0", ckpt / "wav2vec2bert_stats.pt")


@pytest.fixture(scope="module")
def codec(reference_dir) -> SemanticCodec:
    e2e = reference_dir / "e2e" / "checkpoints"
    return SemanticCodec.load(
        e2e / "semantic_codec" / "model.safetensors", load_codec_config(e2e / "config.yaml")
    )


@pytest.fixture(scope="module")
def arrays(reference_dir) -> dict[str, np.ndarray]:
    return load_arrays(reference_dir, "semantic")


def test_semantic_stage_matches_reference(reference_dir):
    torch.set_num_threads(1)
    failed = [c for c in run_stage(reference_dir, "semantic") if not c.passed]
    assert not failed, failed


def test_only_17_layers_are_kept_and_they_give_hidden_state_17(reference_dir, encoder, arrays):
    from transformers import Wav2Vec2BertModel

    assert len(encoder.model.encoder.layers) == 17
    full = Wav2Vec2BertModel.from_pretrained(
        reference_dir / "checkpoints" / "w2v-bert-2.0", local_files_only=True
    )
    feats, mask, _ = encoder.extract(arrays["wav_16k"][:30000])
    with torch.inference_mode():
        expected = full.eval()(
            input_features=feats, attention_mask=mask, output_hidden_states=True
        ).hidden_states[17]
    np.testing.assert_allclose(encoder.hidden17(feats, mask).numpy(), expected.numpy(), atol=1e-5)


def _fbank_frames(n_samples: int) -> int:
    return 1 + (n_samples - 400) // 160


@pytest.mark.parametrize("batched", [True, False])
def test_batched_features_and_codes_equal_single_prompts(encoder, codec, arrays, batched):
    wav = arrays["wav_16k"]
    prompts = [wav[:20000], wav, wav[3000:30161], wav[100:5000]]
    assert {_fbank_frames(len(p)) % 2 for p in prompts} == {0, 1}  # both odd and even counts
    batch = encoder(prompts, batched=batched)
    assert not batch.feats[~batch.mask].any()
    codes, quantized = codec.quantize(batch.feats, batch.mask)
    assert batch.feats.shape[0] == len(prompts) and codes.shape == batch.mask.shape
    for i, p in enumerate(prompts):
        single = encoder(p)
        t = single.feats.shape[1]
        # The official T keeps the half-padded last frame of an odd fbank count.
        assert t == math.ceil(_fbank_frames(len(p)) / 2) == int(batch.lengths[i])
        assert bool(single.mask.all()) and not bool(batch.mask[i, t:].any())
        np.testing.assert_allclose(batch.feats[i, :t].numpy(), single.feats[0].numpy(), atol=1e-4)
        single_codes, single_q = codec.quantize(single.feats)
        assert torch.equal(codes[i, :t], single_codes[0])
        np.testing.assert_allclose(quantized[i, :t].numpy(), single_q[0].numpy(), atol=1e-5)


def test_codec_mask_matters(codec, arrays):
    # Without the mask, padding leaks into the last frames through the convolutions.
    feats = torch.from_numpy(arrays["semantic_emb"])
    padded = torch.nn.functional.pad(feats, (0, 0, 0, 40), value=3.0)
    mask = torch.arange(padded.shape[1])[None] < feats.shape[1]
    _, q_masked = codec.quantize(padded, mask)
    _, q_unmasked = codec.quantize(padded)
    _, q_single = codec.quantize(feats)
    t = feats.shape[1]
    np.testing.assert_allclose(q_masked[:, :t].numpy(), q_single.numpy(), atol=1e-6)
    assert not torch.allclose(q_unmasked[:, :t], q_single, atol=1e-4)


def test_quantize_and_vq2emb_agree(codec, arrays):
    codes, quantized = codec.quantize(torch.from_numpy(arrays["semantic_emb"]))
    emb = codec.vq2emb(codes)
    assert emb.shape == (1, codec.hidden_size, codes.shape[1])
    np.testing.assert_allclose(codec.embed_codes(codes).numpy(), quantized.numpy(), atol=1e-5)
    batch = torch.cat([codes, codes.flip(1)])
    np.testing.assert_allclose(
        codec.vq2emb(batch)[1].numpy(), codec.vq2emb(codes.flip(1))[0].numpy()
    )


def test_codec_widths_from_tensor_shapes(reference_dir):
    for folder in (reference_dir / "checkpoints", reference_dir / "e2e" / "checkpoints"):
        state = load_file(str(folder / "semantic_codec" / "model.safetensors"))
        assert codec_config_from_state(state) == {
            **load_codec_config(folder / "config.yaml"),
            "num_quantizers": 1,
        }


def test_codec_loading_is_strict(reference_dir):
    # The hidden-1024 config with the hidden-32 file must fail, not load partially.
    with pytest.raises(RuntimeError, match="size mismatch"):
        SemanticCodec.load(
            reference_dir / "e2e" / "checkpoints" / "semantic_codec" / "model.safetensors",
            load_codec_config(reference_dir / "checkpoints" / "config.yaml"),
        )


def test_weight_norm_conv_matches_torch_weight_norm():
    torch.manual_seed(0)
    ref = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(6, 4, 1))
    ours = WNConv1d(6, 4)
    with torch.no_grad():
        ours.weight_g.copy_(ref.parametrizations.weight.original0 * 1.3)
        ref.parametrizations.weight.original0.mul_(1.3)
        ours.weight_v.copy_(ref.parametrizations.weight.original1)
        ours.bias.copy_(ref.bias)
    x = torch.randn(2, 6, 9)
    torch.testing.assert_close(ours(x), ref(x))
