"""Stage `codec` of the 2.5 set: w2v-BERT features (get_emb) and the EnhancedCodec
(models.indextts25.codec) against DIR/codec/: quantize at 25 codes/s (odd and even frame
counts), vq2emb and decode back to 50 Hz frames."""

from __future__ import annotations

from pathlib import Path

import torch

from models.config import load_config
from models.indextts25.codec import EnhancedCodec
from models.parity import Check, compare, load_arrays
from models.semantic import SemanticEncoder

STAGE = "codec"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    ckpt = root / "checkpoints"
    cfg = load_config(ckpt / "config.yaml").raw["semantic_codec"]
    codec = EnhancedCodec.load(ckpt / "codec.pth", cfg)
    enc = SemanticEncoder.load(ckpt / "hf_cache" / "w2v-bert-2.0", ckpt / "wav2vec2bert_stats.pt")
    feats, attn, _ = enc.extract(a["wav_16k"])
    checks: list[Check] = [
        compare(STAGE, "input_features", feats, a["input_features"]),
        compare(STAGE, "attention_mask", attn.long(), a["attention_mask"]),
    ]
    raw = enc.hidden17(feats, attn)
    checks.append(compare(STAGE, "hidden_states_17_raw", raw, a["hidden_states_17_raw"]))
    emb = enc(a["wav_16k"]).feats
    checks.append(compare(STAGE, "semantic_emb", emb, a["semantic_emb"]))
    official_emb = torch.from_numpy(a["semantic_emb"])
    for tag, x in (
        ("emb", official_emb),
        ("odd", torch.from_numpy(a["feat_odd"])),
        ("even", torch.from_numpy(a["feat_even"])),
    ):
        codes, quantized = codec.quantize(x)
        checks.append(compare(STAGE, f"codes_{tag}", codes, a[f"codes_{tag}"]))
        checks.append(compare(STAGE, f"quantized_{tag}", quantized, a[f"quantized_{tag}"]))
        given = torch.from_numpy(a[f"codes_{tag}"])
        checks.append(compare(STAGE, f"vq2emb_{tag}", codec.vq2emb(given), a[f"vq2emb_{tag}"]))
        checks.append(compare(STAGE, f"decode_{tag}", codec.decode(given), a[f"decode_{tag}"]))
    checks.append(
        compare(
            STAGE,
            "decode_given",
            codec.decode(torch.from_numpy(a["given_codes"])),
            a["decode_given"],
        )
    )
    return checks
