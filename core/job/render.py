"""The render stage's parts: the sampling the preset gives, and the emotions an engine
cannot honour."""

from __future__ import annotations

import dataclasses

from core.job.options import DubOptions
from core.models.engines import EngineChoice
from core.notices import Notice
from core.settings import PRESET_SAMPLING, DubSettings, QualityPreset
from models.contract import EmotionSource, EmotionSpec, Engine, Sampling


def sampling_for(options: DubOptions, settings: DubSettings) -> Sampling:
    """The sampling every line's request carries: the preset's, the flow steps asked for."""
    sampling = options.sampling
    if settings.preset is not QualityPreset.FINAL:  # final: the sampling as given
        steps, prompt_s, guidance = PRESET_SAMPLING[settings.preset]
        sampling = dataclasses.replace(
            sampling, diffusion_steps=steps, flow_prompt_s=prompt_s, cfg_rate=guidance
        )
    if settings.flow_steps is not None:
        sampling = dataclasses.replace(sampling, diffusion_steps=settings.flow_steps)
    return dataclasses.replace(sampling, stop_window=settings.stop_window)


def honoured(
    index: int,
    emotion: EmotionSpec,
    engine: Engine,
    unhonoured: dict[EmotionSource, list[int]],
) -> EmotionSpec:
    """The line's emotion if the engine honours its kind, else the voice's own
    delivery (the line is noted in `unhonoured`: the user is told, not left guessing)."""
    if emotion.source in engine.capabilities.emotion_inputs:
        return emotion
    unhonoured.setdefault(emotion.source, []).append(index)
    return EmotionSpec()


def unhonoured_notices(
    unhonoured: dict[EmotionSource, list[int]], choice: EngineChoice | None
) -> list[Notice]:
    """One notice per emotion kind the engine ignored, naming its lines."""
    from models.registry import ENGINES

    entry = ENGINES.get(choice.name) if choice else None
    notices = []
    for source, lines in sorted(unhonoured.items()):
        said = entry.missing_emotion.get(source) if entry else None
        title = choice.title if choice else "the engine"
        said = said or f"{title} does not honour {source.value} emotions"
        shown = ", ".join(str(i) for i in lines[:10]) + (" …" if len(lines) > 10 else "")
        notices.append(Notice(None, "emotion-ignored", f"{said} (line(s) {shown})"))
    return notices
