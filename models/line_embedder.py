"""Speaker vectors of single lines, for telling voices apart: the CAMPPlus network that
IndexTTS2 already ships (indextts2/hf_cache/campplus_cn_common.bin), 192-d from 80-bin
fbank features of 16 kHz audio. Found through the registry (EngineEntry.line_embedder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.layout import locate
from models.speaker import SpeakerStyle


class CampPlusEmbedder:
    dim = 192

    def __init__(self, style: SpeakerStyle) -> None:
        self.style = style

    @classmethod
    def load(cls, model_dir: Path, device: str = "cpu") -> CampPlusEmbedder:
        return cls(SpeakerStyle.load(locate(Path(model_dir)).campplus, device=device))

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        row = self.style(np.asarray(audio16k, dtype=np.float32))[0]
        return row.detach().to("cpu").numpy().astype(np.float32)
