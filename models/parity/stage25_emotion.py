"""Stage `emotion` of the 2.5 set: infer_v2_5 mixes emotion vectors exactly as infer_v2
(feat1/feat2 nearest rows, alpha scaling to 4 decimals), so the 2.0 stage reads this set."""

from models.parity.stage_emotion import run  # noqa: F401
