"""Keeps the project file next to the video in step with a running dub.

The project is written when the dub starts and again as takes arrive (autosaved at most
every couple of seconds), so a crash or a cancel loses nothing: the takes are in the cache
and the project file names them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from core import project as proj
from core.lines.render import Take
from core.notices import Notice
from core.project import project_file_for  # the one rule; here for the modules that use it
from core.project.line_matching import merge_cues
from core.speakers.voices import DEFAULT_SPEAKER
from models.contract import DurationMode

__all__ = ["ProjectKeeper", "project_file_for"]


class ProjectKeeper:
    """The dub's owner of the project: the one given (the window's, in memory: the window
    then sees every take as it lands, with no reload from disk) or the one in the file."""

    def __init__(
        self,
        video: Path,
        warn: Callable[[Notice], None],
        *,
        project: proj.Project | None = None,
        interval_s: float = 2.0,
    ) -> None:
        self.path = (project.path if project and project.path else None) or project_file_for(
            Path(video)
        )
        self.warn = warn
        if project is not None:
            self.project = project
        else:
            try:
                self.project = (
                    proj.load_project(self.path) if self.path.exists() else proj.Project()
                )
            except proj.NewerProjectError:
                raise  # a newer Dubsmith's project is never replaced: the dub stops (exit 3)
            except proj.ProjectError as exc:  # the unreadable file was kept as a backup copy
                warn(Notice(None, "project", f"{exc}; starting a fresh project file"))
                self.project = proj.Project()
            for notice in self.project.load_notices:  # bad values dropped, the rest kept
                warn(notice)
        self.autosaver = proj.Autosaver(self.project, self.path, interval_s=interval_s)
        self._lines: dict[int, proj.Line] = {}
        self._failed = False
        self.started = False  # nothing is written before the dub has passed its checks

    def set_settings(self, **settings) -> None:
        """Project-level settings of this dub (paths, background, device...)."""
        self.started = True
        model = settings.pop("model", {})
        for key, value in settings.items():
            setattr(self.project, key, value)
        for key, value in model.items():
            setattr(self.project.model, key, value)
        self.autosaver.mark_dirty()

    def sync_lines(
        self,
        cues,
        speakers: dict[int, str],
        names: dict[str, str],
        voices: dict[str, Path],
    ) -> None:
        """Lines and speakers as this dub reads them from the subtitles; then save. Each
        line keeps its own duration mode (None: it follows the dub's)."""
        merge = merge_cues(self.project, cues, speakers, names)
        for notice in merge.notices:
            self.warn(notice)
        self._lines = merge.lines
        for sid, path in voices.items():
            speaker = self.project.speaker(sid)
            if speaker is not None:
                speaker.prompt_path = Path(path).resolve()
        self._drop_idle_default_speaker()
        self.save()

    def line(self, cue_index: int) -> proj.Line | None:
        return self._lines.get(cue_index)

    def record_analysis(self, analysis: dict, names: dict[str, str]) -> None:
        """Who speaks: the method that found out, and every speaker with a name."""
        self.project.analysis = analysis
        for sid, name in names.items():
            self.project.named_speaker(sid, name)
        self._drop_idle_default_speaker()
        self.autosaver.mark_dirty()

    def _drop_idle_default_speaker(self) -> None:
        """The stand-in "Speaker" of unnamed lines goes once analysis gave them voices,
        unless a line is still its own or the editor renamed it or gave it a voice."""
        project = self.project
        default = project.speaker(DEFAULT_SPEAKER)
        if default is None or default.name != "Speaker" or default.prompt_path is not None:
            return
        if any(
            ln.speaker_id == DEFAULT_SPEAKER for ln in [*project.lines, *project.detached_lines]
        ):
            return
        project.speakers.remove(default)

    def record_prompts(self, prompts) -> None:
        """Each speaker's prompt: the stretches chosen, their scores and reasons."""
        for sid, prompt in prompts.items():
            speaker = self.project.speaker(sid)
            if speaker is None:
                continue
            speaker.prompt_parts = [
                proj.PromptPart(p.start_ms, p.end_ms, p.score, p.reason) for p in prompt.pieces
            ]
            speaker.prompt_score = prompt.score
            speaker.prompt_text = prompt.prompt_text
            speaker.prompt_text_key = prompt.key if prompt.prompt_text is not None else None
        self.save()

    def line_number(self, cue_index: int) -> int:
        """A number that stays with the line when cues are inserted before it (its seed is
        derived from it, so an insertion does not re-render every later line)."""
        return self._lines[cue_index].seed_number

    def line_emotion(self, cue_index: int) -> proj.Emotion | None:
        """The line's own emotion setting, or None when it follows the dub's default."""
        line = self._lines.get(cue_index)
        if line is None or line.emotion.mode is proj.EmotionMode.DEFAULT:
            return None
        return line.emotion

    def record_take(
        self, cue_index: int, take: Take, wav: Path, mode: DurationMode, seed: int
    ) -> None:
        """`mode`: the one the take was rendered in (the line's own, else the dub's)."""
        line = self._lines.get(cue_index)
        if line is None or (line.takes and line.takes[-1].key == take.key):
            return
        line.takes.append(
            proj.Take(
                when=datetime.now(),
                key=take.key,
                cache_path=wav,
                requested_samples=take.target_samples,
                rendered_samples=len(take.audio),
                duration_mode=mode,
                flag=take.flagged,
                seed=seed,
                extra={"fit": dict(take.fit)} if take.fit else {},  # the fit report
            )
        )
        self.autosaver.mark_dirty()
        self._try(self.autosaver.maybe_save)

    def record_check(self, cue_index: int, key: str, figures: dict[str, object]) -> None:
        """The listening check of a line's take (error rate, what was heard, voice
        similarity), kept with that take in the project."""
        line = self._lines.get(cue_index)
        take = next((t for t in reversed(line.takes) if t.key == key), None) if line else None
        if take is not None:
            take.extra.update({k: v for k, v in figures.items() if v is not None})
            self.autosaver.mark_dirty()

    def save(self) -> None:
        if not self.started:
            return
        self.autosaver.mark_dirty()
        self._try(self.autosaver.flush)

    def _try(self, fn) -> None:
        try:
            fn()
        except (OSError, proj.ProjectError) as exc:
            if not self._failed:  # one warning, not one per take
                self.warn(
                    Notice(None, "project", f"could not save the project file {self.path}: {exc}")
                )
            self._failed = True
