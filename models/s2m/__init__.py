"""IndexTTS2 S2M (semantic-to-mel): mel front-end, length regulator, GPT-latent projection,
DiT estimator and the flow-matching sampler. See models.s2m.model for the engine API."""

from models.s2m.config import S2MConfig
from models.s2m.length_regulator import official_target_frames
from models.s2m.mel import mel_frames, mel_spectrogram
from models.s2m.model import S2M

__all__ = ["S2M", "S2MConfig", "mel_frames", "mel_spectrogram", "official_target_frames"]
