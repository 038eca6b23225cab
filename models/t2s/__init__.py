"""IndexTTS2 text-to-semantic model (T2S): conditioning, KV-cached decoding, GPT latents.

from models.t2s import T2S, generate, latents
model = T2S.load(dir / "gpt.pth", load_config(dir / "config.yaml").gpt)
spk = model.speaker_latents(spk_feats)            # [B, 32, D], cache per voice
emo = model.merge_emovec(spk_feats, emo_feats, alpha)  # [B, D]
conds = model.conds(spk, emo, duration_tokens=T, duration_embedding="paper")  # [B, 34, D]
codes = generate(model, list(conds), texts, Sampling()  # models.contract, targets=[T, ...], seeds=[...])
h_gpt = latents(model, list(conds), texts, codes)  # for S2M
"""

from models.t2s.generate import Decoded, StopWindow, decode, generate, latents
from models.t2s.loading import CheckpointMismatch
from models.t2s.model import T2S

__all__ = [
    "T2S",
    "CheckpointMismatch",
    "Decoded",
    "StopWindow",
    "decode",
    "generate",
    "latents",
]
