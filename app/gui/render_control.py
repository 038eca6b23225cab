"""The window's renders: a dub of the whole video, a preview or a new take of some lines,
the progress they report from the job worker, and how they end."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QMessageBox,
)

from app.gui.edits import StateEdit
from app.gui.export_dialog import ExportChoice, ExportDialog
from app.gui.lines_model import (
    COL_SPEAKER,
)
from app.gui.progress import overall_fraction, step_text, time_left_s
from core.desk import status as desk
from core.desk.export import written_extras
from core.desk.line_preview import PREVIEW_STAGES
from core.desk.opening import PEAKS_PER_S, sync_project
from core.desk.speakers import ANALYSIS_STAGES
from core.desk.status import LineStatus
from core.job.options import DubOptions
from core.job.pipeline import STEPS
from core.job.queue import JobStatus

INFO_KINDS = frozenset({"device", "speakers", "listening-off"})  # what a dub decided
NEEDS_RENDER = (LineStatus.NOT_RENDERED, LineStatus.STALE, LineStatus.FAILED)
PREVIEW_STEPS = (*PREVIEW_STAGES, "render")  # a preview's stages, for its progress bar


class RenderMixin:
    """Part of MainWindow: start_dub … on_cancelled, and Find speakers."""

    _steps: tuple[str, ...] = STEPS  # the running job's stages, for its progress bar
    _speakers_before = None  # the speakers while Find speakers runs, for its undo step

    # --- rendering ------------------------------------------------------------------------

    def _options(self, output: Path, extra: ExportChoice | None = None) -> DubOptions:
        assert self.project is not None
        changes = {
            "background": self.background.currentText(),
            "emotion": self.emotion.currentText(),
        }
        if extra is not None:
            changes.update(extra.changes)
        voices = {s.id: s.prompt_path for s in self.project.speakers if s.prompt_path is not None}
        return DubOptions(
            output=Path(output),
            subtitles=self.subtitles,
            # The project's own settings and device, with the window's fields on top.
            settings=self.project.settings,
            changes=changes,
            model_dir=self._model_dir(),
            device=self.project.model.device,
            precision=self.project.model.precision,
            voices=voices,
            stems_dir=extra.stems_dir if extra else None,
            report_path=extra.report_path if extra else None,
            # The Export's loudness preset and deliverables (core/desk_export.DeskDelivery).
            **(extra.delivery.options() if extra and extra.delivery else {}),
        )

    def _voices_missing(self) -> bool:
        """A video without audio: every speaker needs a voice file, asked for by name."""
        if self.inputs is None or self.inputs.media.has_audio or self.project is None:
            return False
        model = self.table_model
        needed = dict.fromkeys(model.speaker_id(r) for r in range(model.rowCount()))
        missing = [
            (self.project.speaker(s).name if self.project.speaker(s) else s)
            for s in needed
            if not (self.project.speaker(s) and self.project.speaker(s).prompt_path)
        ]
        if not missing:
            return False
        self.tabs.setCurrentWidget(self.speakers)
        QMessageBox.warning(
            self,
            "Voice files needed",
            "This video has no audio to take the voices from. In the Speakers tab, choose "
            f"a voice file (Voice file…) for: {', '.join(missing)}.",
        )
        return True

    def start_dub(self, extra: ExportChoice | None = None) -> None:
        """Render every line (unchanged ones come from the cache) and write the output."""
        if self.inputs is None or self._busy():
            return
        extra = extra if isinstance(extra, ExportChoice) else None
        out = self.output_edit.text().strip()
        if not out:
            QMessageBox.warning(self, "No output", "Choose where to write the dubbed video.")
            return
        if self._voices_missing():
            return
        if Path(out).exists():
            answer = QMessageBox.question(
                self, "Replace the output?", f"{out} exists already. Replace it with this dub?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._remember_model_dir()
        assert self.project is not None
        options = self._options(Path(out), extra)
        self._keep_place()
        self._flush()  # the file is current, for a crash during the dub
        self.dub_warnings = []
        self.export_extra = extra  # its stems and report are named when it ends
        self._steps = STEPS
        # The dub works on this very project: takes land in it as they arrive.
        self.running_job = self.queue_worker.submit(self.inputs.video, options, self.project)
        self._started("Dubbing…")

    def _started(self, message: str) -> None:
        self._enable()
        self.table_model.fresh.clear()
        self._step, self._step_done, self._render_start = None, (0, 0), None
        self.progress.setValue(0)
        self.step_label.setText("starting")
        self.statusBar().showMessage(message)

    def export(self) -> None:
        """The Export dialog, then the dub with its choices (kept as the project's)."""
        if self.inputs is None or self._busy() or self.project is None:
            return
        dialog = ExportDialog(
            self,
            self.output_edit.text(),
            self.project.settings,
            self.inputs.media.has_audio,
            delivery_memory=self.settings,
        )
        self.export_dialog = dialog
        stems, report = self._export_memory()
        dialog.stems.setText(self.settings.value(stems, "") or "")
        dialog.report.setText(self.settings.value(report, "") or "")
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        self.run_export(dialog.choice())

    def _export_memory(self) -> tuple[str, str]:
        """The settings keys of this video's last stems folder and report file."""
        assert self.inputs is not None
        key = hashlib.sha1(str(self.inputs.video.resolve()).encode()).hexdigest()[:16]
        return f"export/{key}/stems", f"export/{key}/report"

    def run_export(self, choice: ExportChoice) -> None:
        assert self.project is not None
        # The next Export of this video offers the same stems folder and report again.
        stems, report = self._export_memory()
        self.settings.setValue(stems, str(choice.stems_dir) if choice.stems_dir else "")
        self.settings.setValue(report, str(choice.report_path) if choice.report_path else "")
        self.output_edit.setText(str(choice.output))
        self.background.setCurrentText(choice.changes["background"])
        self.start_dub(choice)

    def _render_lines(self, indices: list[int], seed: int | None, play: bool) -> None:
        if self.inputs is None or self._busy() or not indices or self._voices_missing():
            return
        self._remember_model_dir()
        self._flush()
        self.dub_warnings = []
        self.play_after_preview, self.preview_seed = play, seed
        self._steps = PREVIEW_STEPS
        options = self._options(Path(self.output_edit.text().strip() or "preview.mp4"))
        self.preview_job = self.queue_worker.submit_preview(
            self.inputs.video, options, self.project, indices, seed
        )
        self.table_model.rendering = set(indices)
        for i in indices:
            if (row := self.rows.get(i)) is not None:
                self.table_model.refresh_row(row)
        self._started(f"Rendering {len(indices)} line(s)…")

    def _line_start(self, index: int | None) -> int | None:
        line = self.lines.get(index) if index is not None else None
        return line.start_ms if line is not None else None

    def _play_take(self, path: str) -> None:
        """A take of the selected line, alone; the picture waits at that line's start."""
        self.video.play_file(Path(path), self._line_start(self.selected_index()))

    def preview_line(self) -> None:
        """Render just the selected line (from the cache when unchanged) and play it."""
        if self.selected_index() is not None:
            self._render_lines([self.selected_index()], None, play=True)

    def regenerate_line(self) -> None:
        """A new take of the selected line (a new seed); it becomes the line's chosen take."""
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or self.project is None:
            return
        own = line.takes[-1].seed if line.takes else self.project.settings.seed + line.seed_number
        self._render_lines([index], desk.next_take_seed(line, own), play=True)

    def render_stale(self) -> None:
        model = self.table_model
        stale = [
            self.row_cues[r] for r in range(model.rowCount()) if model.status(r)[0] in NEEDS_RENDER
        ]
        if not stale:
            self.statusBar().showMessage("Every line is rendered and current")
            return
        self._render_lines(stale, None, play=False)

    def cancel_dub(self) -> None:
        if self.running_job is not None:
            self.queue_worker.cancel(self.running_job)
        elif self.preview_job is not None:
            self.queue_worker.cancel_preview(self.preview_job)
        else:
            return
        self.cancel_btn.setEnabled(False)
        self.statusBar().showMessage(
            "Cancelling: the line being rendered is finished and kept, then the render stops…"
        )

    def on_progress(self, step: str, done: int, total: int) -> None:
        self._step, self._step_done = step, (done, total)
        # A preview runs only its own stages: measured against a whole dub's, one line's bar
        # stopped at 14 %. And a bar never goes back within one job.
        frac = overall_fraction(step, done, total, self._steps)
        if frac is not None:
            self.progress.setValue(max(self.progress.value(), int(frac * 100)))
        left = None
        if step == "render":
            if self._render_start is None:  # lines already done now came from the cache
                self._render_start = (time.monotonic(), done)
                self._mark_rendering()
            t0, first = self._render_start
            left = time_left_s(first, done, total, time.monotonic() - t0)
        self.step_label.setText(step_text(step, done, total, left))

    def _mark_rendering(self) -> None:
        """The render starts: every line that needs it shows "rendering" until its take."""
        model = self.table_model
        if self.running_job is None:
            return
        model.rendering = {
            self.row_cues[r] for r in range(model.rowCount()) if model.status(r)[0] in NEEDS_RENDER
        }
        for index in model.rendering:
            if (row := self.rows.get(index)) is not None:
                model.refresh_row(row)

    def _where(self) -> str:
        """Where the dub stopped, for the messages: "during render (line 3 of 20)"."""
        if self._step is None:
            return "before it started"
        done, total = self._step_done
        if self._step == "render" and total:
            # A cancelled chunk reports every line as done: count the takes that arrived.
            first = self._render_start[1] if self._render_start else 0
            done = min(done, first + len(self.table_model.fresh))
            return f"during render (line {min(done + 1, total)} of {total})"
        return f"during {self._step}"

    # --- the worker's signals ------------------------------------------------------------------

    def _mine(self, job_id: int) -> bool:
        return job_id in (self.running_job, self.preview_job) and job_id is not None

    def _job_stage(self, job_id: int, step: str, done: int, total: int) -> None:
        if self._mine(job_id):
            self.on_progress(step, done, total)

    def _line_rendered(self, job_id: int, index: int, take) -> None:
        """Each take as it arrives: the row's status, fit and the dub's waveform."""
        row = self.rows.get(index)
        if not self._mine(job_id) or row is None:
            return
        model = self.table_model
        model.rendering.discard(index)
        model.fresh.add(index)
        self._refresh_row(row)
        self.timeline.set_dub(
            row, self.lines[index].start_ms, desk.peaks(take.audio, desk.RATE_22K, PEAKS_PER_S)
        )

    def _job_warning(self, job_id: int, notice) -> None:
        if self._mine(job_id):
            self.dub_warnings.append(notice)

    def _job_ended(self, job_id: int) -> None:
        job = self.queue.get(job_id)
        if job is None or job_id != self.running_job:
            return
        if job.status is JobStatus.DONE:
            self.on_finished(job.report)
        elif job.status is JobStatus.CANCELLED:
            self.on_cancelled()
        else:
            self.on_failed(job.error or "the dub failed")

    def find_speakers(self) -> None:
        """Who speaks each line, analysed from the voices now (lines the editor gave a
        speaker by hand keep theirs): one undo step; progress and Cancel as a render's."""
        if self.inputs is None or self.project is None or self._busy():
            return
        self._remember_model_dir()
        self._flush()
        self.dub_warnings = []
        self._speakers_before = self._speakers_state()
        self._steps = ANALYSIS_STAGES
        options = self._options(Path(self.output_edit.text().strip() or "preview.mp4"))
        self.preview_job = self.queue_worker.submit_find_speakers(
            self.inputs.video, options, self.project
        )
        self._started("Finding speakers…")

    def _speakers_found(self, detail, error) -> None:
        before, self._speakers_before = self._speakers_before, None
        self.preview_job = None
        self._done()
        if error:  # nothing of a cancelled or failed analysis stays
            self._reset_progress()
            self._set_speakers_state(before)
            self.statusBar().showMessage(
                "Find speakers cancelled; the speakers are as they were"
                if error == "cancelled"
                else f"Find speakers failed: {error}; the speakers are as they were"
            )
            self.speakers_found.emit(False)
            self._maybe_close()
            return
        after = self._speakers_state()
        if after != before:
            self.undo_stack.push(
                StateEdit("find speakers", self._set_speakers_state, before, after)
            )
        self.progress.setValue(100)
        self.step_label.setText("done")
        self.statusBar().showMessage(f"Found speakers: {detail}")
        self.speakers_found.emit(True)
        self._maybe_close()

    def _preview_ended(self, preview_id: int, results, error) -> None:
        if preview_id != self.preview_job:
            return
        if self._speakers_before is not None:
            self._speakers_found(results, error)
            return
        seed_asked, self.preview_seed = self.preview_seed, None
        kept = self._kept()
        asked = sorted(self.table_model.rendering)
        self.preview_job = None
        self._done()
        if error and not results:
            if error != "cancelled":  # flagged as after Render all: F finds them
                for index in asked:
                    self.table_model.errors[index] = error
                    if (row := self.rows.get(index)) is not None:
                        self._refresh_row(row)
            self._reset_progress()
            where = "cancelled" if error == "cancelled" else f"failed: {error}"
            self.statusBar().showMessage(f"Rendering {where}: {kept}")
            if error != "cancelled" and not self.close_pending:
                QMessageBox.warning(self, "Could not render", error)
            self.preview_finished.emit(False)
            self._maybe_close()
            return
        for r in results:
            line = self.lines.get(r.index)
            if line is None:
                continue
            take = next((t for t in reversed(line.takes) if t.key == r.take.key), None)
            if take is not None and seed_asked is not None:
                desk.choose_take(line, take)  # a regenerated take is the line's chosen one
            desk.mark_rendered(line)
            self.table_model.errors.pop(r.index, None)  # rendered now: no longer failed
            if (row := self.rows.get(r.index)) is not None:
                self._refresh_row(row)
                self.timeline.set_dub(
                    row, line.start_ms, desk.peaks(r.take.audio, desk.RATE_22K, PEAKS_PER_S)
                )
        if self.autosaver is not None:
            self.autosaver.mark_dirty()
        self.progress.setValue(100)  # it ends full, not back at 0 %
        self.step_label.setText("done")
        self._render_start = None
        first = results[0]
        check = "" if first.check is None else f", {first.check.error_rate:.0%} off its text"
        self.statusBar().showMessage(
            f"Rendered {len(results)} line(s); line {first.index}: "
            f"{len(first.take.audio) / desk.RATE_22K:.2f} s{check}"
        )
        if self.play_after_preview:
            self.video.play_file(first.wav, self._line_start(first.index))
        self.preview_finished.emit(True)
        self._maybe_close()

    def _done(self) -> None:
        self.running_job = None
        model = self.table_model
        for index in model.fresh:
            if (line := self.lines.get(index)) is not None:
                desk.mark_rendered(line)
        model.rendering.clear()
        model.fresh.clear()
        self._resync_after_dub()
        self._enable()

    def _reset_progress(self) -> None:
        """A dub that did not finish leaves no half-full bar or stale step behind."""
        self.progress.setValue(0)
        self.step_label.setText("")
        self._render_start = None

    def _resync_after_dub(self) -> None:
        """The dub worked on this very project (takes, speakers): no reload from disk, only
        the window's view of it is brought up to date."""
        if self.current is None or self.project is None:
            return
        merge = sync_project(self.project, self.current)
        self.lines = merge.lines
        self.table_model.lines = [self.lines[i] for i in self.row_cues]
        self._refresh_everything()
        self._size_columns((COL_SPEAKER,))  # names may have grown ("Speaker 1")

    def on_finished(self, report) -> None:
        for line in report.lines:
            if line.error:
                self.table_model.errors[line.index] = line.error
        self._done()
        self.video.set_dub(self._mix_file())
        if self.close_pending:
            self.close()
            return
        self.last_report = report
        # The dub's own warnings, grouped like the CLI's; what it decided (the device, who
        # speaks) is said in the status bar, not counted as a warning.
        decided = [n for n in self.dub_warnings if n.kind in INFO_KINDS]
        self._show_warnings([n for n in self.dub_warnings if n.kind not in INFO_KINDS])
        self.progress.setValue(100)
        self.step_label.setText("done")
        failed = len(report.failed)
        msg = f"Wrote {report.output} ({len(report.lines)} lines, {failed} failed) in {report.wall_s:.1f} s"
        if decided:
            msg += "; " + "; ".join(str(n) for n in decided)
        self.statusBar().showMessage(msg)
        extra, self.export_extra = self.export_extra, None
        if extra is not None:  # what the export wrote beside the video, by name
            said = written_extras(
                extra.stems_dir, extra.report_path, extra.delivery, Path(report.output).stem
            )
            msg += "".join(f"\n{s}" for s in said)
        if failed:
            QMessageBox.warning(
                self,
                "Some lines failed",
                msg + "\n\n" + "\n".join(f"cue {r.index}: {r.error}" for r in report.failed[:10]),
            )
        else:
            self._show_result(Path(report.output), msg)

    def _show_result(self, output: Path, message: str) -> None:
        """A message that offers to open the output's folder; not modal to the app."""
        box = QMessageBox(QMessageBox.Icon.Information, "Dub written", message, parent=self)
        folder_btn = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        folder_btn.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(output.parent)))
        )
        self.result_box = box
        box.open()

    def on_failed(self, message: str) -> None:
        where = self._where()
        self._done()
        self._reset_progress()
        self.statusBar().showMessage(f"Dub failed {where}: {message}; nothing was written")
        if self.close_pending:
            self.close()
            return
        QMessageBox.critical(self, "Dub failed", message)

    def _kept(self) -> str:
        """What a cancelled render leaves: the lines whose takes arrived stay cached."""
        n = len(self.table_model.fresh)
        if not n:
            return "no line was rendered"
        return f"{n} line{'s' if n != 1 else ''} rendered and kept (the next render reuses them)"

    def on_cancelled(self) -> None:
        where, kept = self._where(), self._kept()
        self._done()
        self._reset_progress()
        self.statusBar().showMessage(f"Cancelled {where}: {kept}; nothing was written")
        if self.close_pending:
            self.close()
