"""Stage `semantic`: w2v-BERT layer-17 features and the MaskGCT semantic codec against
DIR/semantic/ (tiny w2v-BERT from DIR/checkpoints, the hidden-32 codec from DIR/e2e and
the hidden-1024 codec from DIR/checkpoints)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.parity import Check, compare, exact, load_arrays
from models.semantic import SemanticCodec, SemanticEncoder, load_codec_config

STAGE = "semantic"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    ckpt = root / "checkpoints"
    checks: list[Check] = []

    encoder = SemanticEncoder.load(ckpt / "w2v-bert-2.0", ckpt / "wav2vec2bert_stats.pt")
    wav = a["wav_16k"]
    input_features, attention_mask, _ = encoder.extract(wav)
    checks.append(compare(STAGE, "input_features", input_features, a["input_features"]))
    checks.append(compare(STAGE, "attention_mask", attention_mask, a["attention_mask"]))
    # The official model keeps all its layers; we keep 17, so check the file holds what we expect.
    checks.append(
        exact(
            STAGE,
            "num_hidden_states",
            encoder.loaded_layers + 1 == int(a["num_hidden_states"]),
            f"loaded {encoder.loaded_layers} layers",
        )
    )
    # From the official extractor output, so the model is checked on its own ...
    hidden = encoder.hidden17(
        torch.from_numpy(a["input_features"]), torch.from_numpy(a["attention_mask"])
    )
    checks.append(compare(STAGE, "hidden_states_17_raw", hidden, a["hidden_states_17_raw"]))
    # ... and end to end from the wave.
    features = encoder(wav)
    checks.append(compare(STAGE, "semantic_emb", features.feats, a["semantic_emb"]))
    checks.append(
        exact(
            STAGE, "semantic_emb_mask", bool(features.mask.all()), "single prompt: every frame kept"
        )
    )

    # Batched with two shorter prompts (one with an odd fbank frame count): row 0 must still
    # be the official result.
    batch = encoder([wav, wav[:20000], wav[3000:30161]], batched=True)
    t = a["semantic_emb"].shape[1]
    checks.append(
        compare(STAGE, "semantic_emb_batched_row0", batch.feats[:1, :t], a["semantic_emb"])
    )
    checks.append(exact(STAGE, "semantic_batched_lengths", batch.lengths[0].item() == t))

    codec = SemanticCodec.load(
        root / "e2e/checkpoints/semantic_codec/model.safetensors",
        load_codec_config(root / "e2e/checkpoints/config.yaml"),
    )
    emb = torch.from_numpy(a["semantic_emb"])
    with torch.inference_mode():
        checks.append(
            compare(STAGE, "codec_encoder_out", codec.encode(emb), a["codec_encoder_out"])
        )
    codes, quantized = codec.quantize(emb)
    checks.append(compare(STAGE, "semantic_codes", codes, a["semantic_codes"]))
    checks.append(compare(STAGE, "semantic_quantized", quantized, a["semantic_quantized"]))
    checks.append(
        compare(
            STAGE, "vq2emb_of_semantic_codes", codec.vq2emb(codes), a["vq2emb_of_semantic_codes"]
        )
    )
    small = torch.from_numpy(a["given_codes_small"])
    checks.append(
        compare(
            STAGE, "vq2emb_given_codes_small", codec.vq2emb(small), a["vq2emb_given_codes_small"]
        )
    )
    # Chained: codes from our own features (the decision margins are far above our error).
    own_codes, _ = codec.quantize(features.feats)
    checks.append(compare(STAGE, "semantic_codes_from_own_emb", own_codes, a["semantic_codes"]))
    batch_codes, _ = codec.quantize(batch.feats, batch.mask)
    checks.append(
        compare(STAGE, "semantic_codes_batched_row0", batch_codes[:1, :t], a["semantic_codes"])
    )

    codec_1024 = SemanticCodec.load(
        root / "checkpoints/semantic_codec/model.safetensors",
        load_codec_config(root / "checkpoints/config.yaml"),
    )
    codes_1024, quantized_1024 = codec_1024.quantize(torch.from_numpy(a["feat_1024"]))
    checks.append(compare(STAGE, "codes_1024", codes_1024, a["codes_1024"]))
    checks.append(compare(STAGE, "quantized_1024", quantized_1024, a["quantized_1024"]))
    given = torch.from_numpy(a["given_codes_1024"])
    checks.append(
        compare(
            STAGE, "vq2emb_given_codes_1024", codec_1024.vq2emb(given), a["vq2emb_given_codes_1024"]
        )
    )
    # Widths read from the tensors give the same codec as the config.
    inferred = SemanticCodec.load(root / "checkpoints/semantic_codec/model.safetensors")
    checks.append(
        compare(
            STAGE,
            "vq2emb_1024_inferred_widths",
            inferred.vq2emb(given),
            a["vq2emb_given_codes_1024"],
        )
    )
    checks.append(exact(STAGE, "semantic_emb_dtype", features.feats.dtype == torch.float32))
    return checks
