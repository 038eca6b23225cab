"""`dubsmith-gui`: open a video and its subtitles, review the lines, set each line's emotion
(undoable, autosaved to the project file next to the video), dub with progress."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.line_panel import EmotionEdit, LinePanel, summary
from app.worker import DubWorker, start_in_thread
from core import project as proj
from core.line_matching import merge_cues
from core.pipeline import STEPS, DubOptions, InputError, Inputs, read_inputs
from core.project import SPEAKER_COLOURS
from core.project_keeper import project_file_for
from core.subtitles import SUBTITLE_EXTENSIONS
from core.timing import plan_lines
from core.voices import assign_speakers, speaker_names
from models.layout import default_model_dir
from models.quiet import quiet_transformers

COLUMNS = ("#", "Start", "End", "Speaker", "Text", "Pace", "Requested", "Rendered", "Emotion")
COL_PACE, COL_REQUESTED, COL_RENDERED, COL_EMOTION = 5, 6, 7, 8
AUTOSAVE_S = 1.0  # an edit reaches the project file at most this long after it is made


def _ms(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:d}:{m:02d}:{s:02d}.{ms:03d}"


class MainWindow(QMainWindow):
    def __init__(self, engine_factory=None) -> None:
        super().__init__()
        self.setWindowTitle("Dubsmith")
        self.resize(1240, 660)
        self.setAcceptDrops(True)
        self.engine_factory = engine_factory
        self.inputs: Inputs | None = None
        self.subtitles: Path | None = None
        self.worker: DubWorker | None = None
        self.thread = None
        self.last_report = None
        self.rows: dict[int, int] = {}  # cue index -> table row
        self.pending_subtitles: Path | None = None  # chosen before any video was open
        self.suggested_output = ""
        self.close_pending = False
        self.settings = QSettings("Dubsmith", "Dubsmith")
        self.project: proj.Project | None = None
        self.autosaver: proj.Autosaver | None = None
        self.undo_stack = QUndoStack(self)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(round(AUTOSAVE_S * 500))
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        open_act = QAction(
            "&Open video…", self, shortcut=QKeySequence.Open, triggered=self.choose_video
        )
        subs_act = QAction("Open &subtitles…", self, triggered=self.choose_subtitles)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(open_act)
        menu.addAction(subs_act)
        menu.addSeparator()
        menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.Quit, triggered=self.close))
        # Our own actions, not createUndoAction(): those re-enable themselves while a dub runs.
        self.undo_act = QAction("&Undo", self, shortcut=QKeySequence.Undo, triggered=self.undo)
        self.redo_act = QAction("&Redo", self, shortcut=QKeySequence.Redo, triggered=self.redo)
        self.undo_stack.canUndoChanged.connect(self._update_undo_actions)
        self.undo_stack.canRedoChanged.connect(self._update_undo_actions)
        self.undo_stack.undoTextChanged.connect(self._update_undo_actions)
        self.undo_stack.redoTextChanged.connect(self._update_undo_actions)
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(self.undo_act)
        edit.addAction(self.redo_act)
        self._update_undo_actions()

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setSelectionMode(QTableWidget.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.panel = LinePanel()
        self.panel.edited.connect(self._panel_edited)
        self.panel.setEnabled(False)

        self.source_label = QLabel("Drop a video and its subtitles here, or use File ▸ Open video.")
        self.warnings_label = QLabel("")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #b35c00")

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("output video (.mp4 or .mkv)")
        out_btn = QPushButton("Browse…")
        out_btn.clicked.connect(self.choose_output)
        self.model_edit = QLineEdit(self.settings.value("model_dir", str(default_model_dir())))
        self.background = QComboBox()
        self.background.addItems(["duck", "replace"])
        self.emotion = QComboBox()
        self.emotion.addItems(["original", "voice"])

        self.dub_btn = QPushButton("Dub")
        self.dub_btn.setEnabled(False)
        self.dub_btn.clicked.connect(self.start_dub)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel_dub)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.step_label = QLabel("")

        form = QHBoxLayout()
        form.addWidget(QLabel("Output"))
        form.addWidget(self.output_edit, 3)
        form.addWidget(out_btn)
        form.addWidget(QLabel("Models"))
        form.addWidget(self.model_edit, 2)
        form.addWidget(QLabel("Background"))
        form.addWidget(self.background)
        form.addWidget(QLabel("Default emotion"))
        form.addWidget(self.emotion)
        run = QHBoxLayout()
        run.addWidget(self.dub_btn)
        run.addWidget(self.cancel_btn)
        run.addWidget(self.progress, 1)
        run.addWidget(self.step_label)

        box = QVBoxLayout()
        box.addWidget(self.source_label)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 1)
        split.setSizes([900, 320])
        box.addWidget(split, 1)
        box.addWidget(self.warnings_label)
        box.addLayout(form)
        box.addLayout(run)
        central = QWidget()
        central.setLayout(box)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")

    # --- opening -----------------------------------------------------------------------------

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video", "", "Video (*.mp4 *.mkv *.mov *.m4v);;All files (*)"
        )
        if path:
            self.open_video(Path(path))

    def choose_subtitles(self) -> None:
        pattern = " ".join(f"*{e}" for e in SUBTITLE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open subtitles", "", f"Subtitles ({pattern})")
        if path:
            if self.inputs:
                self.open_video(self.inputs.video, Path(path))
            else:  # used by the next video opened
                self.pending_subtitles = Path(path)

    def choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Dubbed video", self.output_edit.text(), "MP4 (*.mp4);;Matroska (*.mkv)"
        )
        if path:
            self.output_edit.setText(path)

    def open_video(self, video: Path, subtitles: Path | None = None) -> bool:
        """Open a video with the given subtitles, or with those next to it. Subtitles of a
        previously opened video never carry over to another one."""
        if self.worker is not None:
            self.statusBar().showMessage("A dub is running: cancel it before opening another video")
            return False
        video = Path(video)
        same_video = self.inputs is not None and self.inputs.video == video
        if subtitles is None:
            subtitles = self.pending_subtitles or (self.subtitles if same_video else None)
        self.pending_subtitles = None
        try:
            inputs = read_inputs(video, subtitles)
        except InputError as exc:
            QMessageBox.warning(self, "Cannot open", str(exc))
            return False
        self._flush()  # the previous video's edits reach its own project file
        self.inputs = inputs
        self.subtitles = inputs.subtitles.path
        self._load_project()
        self.undo_stack.clear()  # its commands name lines of the previous project
        doc = inputs.subtitles
        self.source_label.setText(
            f"{video.name} — {inputs.media.duration_s:.1f} s   |   {doc.path.name} ({doc.format}, {doc.encoding}, {len(doc.cues)} cues)"
        )
        # Replace the output only if it is ours (empty or our last suggestion), never one the
        # editor typed; a suggestion for another video must not survive to overwrite its dub.
        if self.output_edit.text() in ("", self.suggested_output):
            self.suggested_output = str(video.with_name(video.stem + ".dubbed" + video.suffix))
            self.output_edit.setText(self.suggested_output)
        self._fill_table()
        n = len(doc.warnings)
        self.warnings_label.setText(
            ""
            if not n
            else f"{n} warning(s): "
            + "; ".join(str(w) for w in doc.warnings[:4])
            + (" …" if n > 4 else "")
        )
        self.dub_btn.setEnabled(True)
        self.panel.setEnabled(True)
        if self.table.rowCount():
            self.table.selectRow(0)
        if not self.statusBar().currentMessage().startswith("Could not read"):
            self.statusBar().showMessage(f"Opened {video.name}")
        return True

    # --- the project file ----------------------------------------------------------------------

    def _load_project(self) -> None:
        """The video's project file (or a fresh project) with a line for every usable cue;
        lines keep their emotion settings."""
        assert self.inputs is not None
        video = self.inputs.video
        path = project_file_for(video)
        self.statusBar().clearMessage()
        project = proj.Project()
        if path.exists():
            try:
                project = proj.load_project(path)
            except proj.ProjectError as exc:  # the unreadable file was kept as a backup copy
                self.statusBar().showMessage(f"Could not read the project: {exc}; starting fresh")
        self._sync_lines(project)
        self.project = project
        self.autosaver = proj.Autosaver(project, path, interval_s=AUTOSAVE_S)

    def _sync_lines(self, project: proj.Project) -> None:
        """The project's lines as the subtitles have them; a line the subtitles lost keeps
        its settings until a dub prunes it."""
        assert self.inputs is not None
        cues = self.inputs.subtitles.usable_cues()
        merge_cues(project, cues, assign_speakers(cues), speaker_names(cues))
        if project.video_path is None:
            project.video_path = self.inputs.video.resolve()
        project.subtitle_path = self.inputs.subtitles.path.resolve()

    def line(self, index: int) -> proj.Line | None:
        if self.project is None:
            return None
        return next((ln for ln in self.project.lines if ln.index == index), None)

    def selected_index(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return int(self.table.item(rows[0].row(), 0).text())

    def _selection_changed(self) -> None:
        index = self.selected_index()
        self.panel.show_line(None if index is None else self.line(index))

    def _panel_edited(self, emotion: proj.Emotion, merge_key) -> None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or self.worker is not None:
            self.panel.show_line(line)
            return
        self.undo_stack.push(EmotionEdit(self.set_emotion, index, line.emotion, emotion, merge_key))

    def set_emotion(self, index: int, emotion: proj.Emotion) -> None:
        """Apply an emotion to a line (the undo stack's only way in)."""
        line = self.line(index)
        if line is None:
            return
        line.emotion = emotion
        row = self.rows.get(index)
        if row is not None and self.table.item(row, COL_EMOTION) is not None:
            self.table.item(row, COL_EMOTION).setText(summary(emotion))
        if self.selected_index() == index:
            self.panel.show_line(line)
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def undo(self) -> None:
        if self.worker is None:
            self.undo_stack.undo()

    def redo(self) -> None:
        if self.worker is None:
            self.undo_stack.redo()

    def _update_undo_actions(self, *_) -> None:
        idle = self.worker is None
        self.undo_act.setEnabled(idle and self.undo_stack.canUndo())
        self.redo_act.setEnabled(idle and self.undo_stack.canRedo())
        self.undo_act.setText(f"&Undo {self.undo_stack.undoText()}".rstrip())
        self.redo_act.setText(f"&Redo {self.undo_stack.redoText()}".rstrip())

    def autosave(self) -> None:
        """Timer tick: save once the edits are AUTOSAVE_S old. Never while a dub runs (the
        dub owns the file then)."""
        if self.autosaver is None or self.worker is not None:
            return
        try:
            self.autosaver.maybe_save()
        except (OSError, proj.ProjectError) as exc:
            self.statusBar().showMessage(f"Could not save the project: {exc}")

    def _flush(self) -> bool:
        """Save unsaved edits now; False (and a message) when that failed."""
        if self.autosaver is None:
            return True
        try:
            self.autosaver.flush()
        except (OSError, proj.ProjectError) as exc:
            self.statusBar().showMessage(f"Could not save the project: {exc}")
            return False
        return True

    def _fill_table(self) -> None:
        assert self.inputs is not None
        cues = self.inputs.subtitles.usable_cues()
        speakers = assign_speakers(cues)
        colours = {
            sid: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)]
            for i, sid in enumerate(dict.fromkeys(speakers.values()))
        }
        video_end_ms = round(self.inputs.media.duration_s * 1000)
        self.table.setRowCount(len(cues))
        self.rows = {c.index: row for row, c in enumerate(cues)}
        for row, (c, timing) in enumerate(
            zip(cues, plan_lines(cues, video_end_ms=video_end_ms), strict=True)
        ):
            values = (
                str(c.index),
                _ms(c.start_ms),
                _ms(c.end_ms),
                c.speaker_hint or "Speaker",
                c.text,
                f"{timing.pace:.2f}x",
                f"{timing.duration_s:.3f} s",
                "",
            )
            line = self.line(c.index)
            values += (summary(line.emotion) if line else "",)
            for col, v in enumerate(values):
                item = QTableWidgetItem(v)
                if col == 3:
                    item.setForeground(QColor(colours[speakers[c.index]]))
                if col == COL_PACE and timing.flag:
                    item.setForeground(QColor("#c0392b"))
                    item.setToolTip(timing.flag)
                self.table.setItem(row, col, item)

    def _show_takes(self, report) -> None:
        """Requested and achieved durations of every rendered line, as DESIGN.md asks."""
        for line in report.lines:
            row = self.rows.get(line.index)
            if row is None:
                continue
            if line.target_samples_22k is not None:
                self.table.item(row, COL_REQUESTED).setText(
                    f"{line.target_samples_22k / 22050:.3f} s"
                )
            item = self.table.item(row, COL_RENDERED)
            if line.error:
                item.setText("failed")
                item.setForeground(QColor("#c0392b"))
                item.setToolTip(line.error)
            else:
                item.setText(f"{(line.rendered_samples_22k or 0) / 22050:.3f} s")
                if line.flag:
                    item.setForeground(QColor("#b35c00"))
                    item.setToolTip(line.flag)

    # --- drag and drop -------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls()]
        subs = next((p for p in paths if p.suffix.lower() in SUBTITLE_EXTENSIONS), None)
        video = next((p for p in paths if p.suffix.lower() not in SUBTITLE_EXTENSIONS), None)
        if video:
            self.open_video(video, subs)
        elif subs and self.inputs:
            self.open_video(self.inputs.video, subs)
        elif subs:
            self.pending_subtitles = subs

    # --- dubbing -------------------------------------------------------------------------------

    def start_dub(self) -> None:
        if self.inputs is None or self.worker is not None:
            return
        out = self.output_edit.text().strip()
        if not out:
            QMessageBox.warning(self, "No output", "Choose where to write the dubbed video.")
            return
        model_dir = (
            Path(self.model_edit.text()).expanduser() if self.model_edit.text().strip() else None
        )
        if model_dir:
            self.settings.setValue("model_dir", str(model_dir))
        options = DubOptions(
            output=Path(out),
            subtitles=self.subtitles,
            model_dir=model_dir,
            background=self.background.currentText(),
            emotion=self.emotion.currentText(),
        )
        if not self._flush():  # the dub reads the lines' emotions from the project file
            QMessageBox.warning(
                self, "Cannot save", "The project file could not be saved; see the status bar."
            )
            return
        self.worker = DubWorker(self.inputs.video, options, self.engine_factory)
        self.worker.progress.connect(self.on_progress)
        self.worker.finished.connect(self.on_finished)
        self.worker.failed.connect(self.on_failed)
        self.worker.cancelled.connect(self.on_cancelled)
        self.dub_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.panel.setEnabled(False)  # no edits while the dub owns the project file
        self._update_undo_actions()
        self.progress.setValue(0)
        self.thread = start_in_thread(self.worker)

    def cancel_dub(self) -> None:
        if self.worker:
            self.worker.cancel()
            self.cancel_btn.setEnabled(False)
            self.statusBar().showMessage("Cancelling after the current step…")

    def on_progress(self, step: str, done: int, total: int) -> None:
        # Each step owns an equal share of the bar; rendering dominates but is shown per line.
        i = STEPS.index(step) if step in STEPS else 0
        frac = (i + (done / total if total else 1.0)) / len(STEPS)
        self.progress.setValue(int(frac * 100))
        self.step_label.setText(f"{step} {done}/{total}")

    def _done(self) -> None:
        if self.thread is not None:
            # quit() is thread-safe; the worker's own quit signal may still be queued here.
            self.thread.quit()
            self.thread.wait()
        self.worker = None
        self.thread = None
        self.dub_btn.setEnabled(self.inputs is not None)
        self.cancel_btn.setEnabled(False)
        self._reload_after_dub()
        self.panel.setEnabled(self.project is not None)
        self._update_undo_actions()

    def _reload_after_dub(self) -> None:
        """The dub wrote takes (and pruned lines) into the project file: take that as ours,
        or our next save would drop them. Undo commands name lines by cue index, so they
        still apply to the reloaded lines."""
        if self.inputs is None or self.autosaver is None or not self.autosaver.path:
            return
        path = self.autosaver.path
        if not path.exists():
            return
        try:
            project = proj.load_project(path)
        except proj.ProjectError as exc:
            self.statusBar().showMessage(f"Could not re-read the project: {exc}")
            return
        self._sync_lines(project)
        self.project = project
        self.autosaver = proj.Autosaver(project, path, interval_s=AUTOSAVE_S)
        for line in project.lines:
            row = self.rows.get(line.index)
            if row is not None and self.table.item(row, COL_EMOTION) is not None:
                self.table.item(row, COL_EMOTION).setText(summary(line.emotion))
        self._selection_changed()

    def on_finished(self, report) -> None:
        self._done()
        if self.close_pending:
            self.close()
            return
        self.last_report = report
        self._show_takes(report)
        self.progress.setValue(100)
        failed = len(report.failed)
        msg = f"Wrote {report.output} ({len(report.lines)} lines, {failed} failed) in {report.wall_s:.1f} s"
        self.statusBar().showMessage(msg)
        if failed:
            QMessageBox.warning(
                self,
                "Some lines failed",
                msg + "\n\n" + "\n".join(f"cue {r.index}: {r.error}" for r in report.failed[:10]),
            )

    def on_failed(self, message: str) -> None:
        self._done()
        self.statusBar().showMessage("Dub failed")
        if self.close_pending:
            self.close()
            return
        QMessageBox.critical(self, "Dub failed", message)

    def on_cancelled(self) -> None:
        self._done()
        self.statusBar().showMessage("Cancelled; nothing was written")
        if self.close_pending:
            self.close()

    def closeEvent(self, event) -> None:
        if self.worker is None:
            self._flush()
            event.accept()
            return
        # Never block the window or kill a running thread: cancel, and close once the
        # worker has stopped (it saves the project and leaves no partial output).
        answer = QMessageBox.question(
            self,
            "Dub running",
            "A dub is running. Cancel it and quit? Lines rendered so far stay cached.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.close_pending = True
            self.cancel_dub()
        event.ignore()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    quiet_transformers()  # no library progress bars on the terminal that started the GUI
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Dubsmith")
    win = MainWindow()
    win.show()
    args = [Path(a) for a in argv[1:]]
    if args:
        win.open_video(args[0], args[1] if len(args) > 1 else None)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
