"""The voices stage's parts: one prompt per speaker, what it says, the engine's voices."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core import project as proj
from core.audio.samples import resample_to_length
from core.job import preflight
from core.job.inputs import Inputs
from core.job.lines import LinePlan
from core.job.project_keeper import ProjectKeeper
from core.lines.listening import Listener
from core.lines.render import CancelToken
from core.speakers.prompt_choice import Span
from core.speakers.voices import VoicePrompt, cut_prompt
from models.contract import SAMPLE_RATE, Engine, VoiceHandle


def cut_prompts(
    lines: list[LinePlan],
    voice_files: dict[str, VoicePrompt],
    keeper: ProjectKeeper | None,
    mono22k: np.ndarray | None,
    inputs: Inputs,
    others: dict[str, list[Span]],
) -> dict[str, VoicePrompt]:
    """One prompt per speaker: the editor's file, else the cleanest stretches of that
    speaker's own lines."""
    speakers = {ln.speaker for ln in lines}
    preflight.check_voice_names(voice_files, speakers)
    prompts = {sid: p for sid, p in voice_files.items() if sid in speakers}
    project = keeper.project if keeper else None
    for sid in sorted(speakers - set(prompts)):
        assert mono22k is not None  # read refused this case up front
        own = [ln.cue for ln in lines if ln.speaker == sid]
        # The editor may have chosen the lines the prompt is cut from.
        speaker = project.speaker(sid) if project else None
        chosen = set(speaker.prompt_lines) if speaker else set()
        if chosen and keeper:
            picked = [c for c in own if (ln := keeper.line(c.index)) and ln.id in chosen]
            own = picked or own
        prompts[sid] = cut_prompt(
            sid, mono22k, SAMPLE_RATE, own, inputs.subtitles.cues, others=others.get(sid)
        )
    return prompts


def transcribe_prompts(
    prompts: dict[str, VoicePrompt],
    project: proj.Project | None,
    listener: Callable[[], Listener | None],
    cancel: CancelToken,
) -> None:
    """What each prompt says (faster-whisper, its language detected), so an engine that
    clones better knowing the prompt's words gets them (`VoicePrompt.prompt_text`);
    kept with the speaker in the project and heard again only when the prompt changes.
    Without the whisper model the prompts go without."""
    todo = []
    for sid, prompt in sorted(prompts.items()):
        speaker = project.speaker(sid) if project else None
        if speaker is not None and speaker.prompt_text is not None:
            if speaker.prompt_text_key == prompt.key:
                prompt.prompt_text = speaker.prompt_text
                continue
        todo.append(prompt)
    heard = listener() if todo else None
    for prompt in todo if heard is not None else []:
        cancel.check()
        audio16k = resample_to_length(prompt.audio, prompt.sample_rate, 16000)
        prompt.prompt_text = heard.transcript(audio16k).strip()


def prepare_voices(
    engine: Engine,
    prompts: dict[str, VoicePrompt],
    tick: Callable[[int, int], None],
    cancel: CancelToken,
    into: dict[str, VoiceHandle],
) -> dict[str, VoiceHandle]:
    """The engine's voice for each speaker's prompt, with its transcript where the
    engine takes one; put into `into` as each is made (a cancel keeps those made)."""
    for n, (sid, prompt) in enumerate(sorted(prompts.items())):
        tick(n, len(prompts))
        cancel.check()
        transcript = getattr(prompt, "prompt_text", None)
        if transcript and engine.capabilities.prompt_transcript:
            into[sid] = engine.prepare_voice(
                prompt.audio, prompt.sample_rate, transcript=transcript
            )
        else:
            into[sid] = engine.prepare_voice(prompt.audio, prompt.sample_rate)
    return into
