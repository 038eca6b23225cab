"""What a cancelled `dubsmith analyze` says it kept. The job saves the project on cancel as
on success (core/pipeline.py, DubJob.analyze): what is in it depends on how far it got."""

from __future__ import annotations


def cancelled_message(job) -> str:
    """One line for the terminal: whether the project file was written, and with what."""
    keeper = getattr(job, "keeper", None)
    if keeper is None or not keeper.started:
        return "cancelled before anything was saved; the project file is as it was"
    project = keeper.project
    kept = [f"{len(project.lines)} lines with their speakers"]
    analysis = project.analysis or {}
    if analysis:
        kept.append(f"who speaks ({analysis.get('method', 'found')})")
    prompts = sum(1 for s in project.speakers if s.prompt_parts)
    left = (
        f"voice prompts chosen for {prompts} of {len(project.speakers)} speakers"
        if prompts
        else "no voice prompts chosen yet"
    )
    return (
        f"cancelled; saved {keeper.path}: {', '.join(kept)}; {left} (run analyze again to finish)"
    )
