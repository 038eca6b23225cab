"""`dubsmith-gui`: open a video and its subtitles, review the lines, dub with progress."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QColor, QKeySequence
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
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.worker import DubWorker, start_in_thread
from core.pipeline import STEPS, DubOptions, InputError, Inputs, read_inputs
from core.project import SPEAKER_COLOURS
from core.subtitles import SUBTITLE_EXTENSIONS
from core.timing import plan_lines
from core.voices import assign_speakers
from models.layout import default_model_dir

COLUMNS = ("#", "Start", "End", "Speaker", "Text", "Pace", "Requested", "Rendered")
COL_PACE, COL_REQUESTED, COL_RENDERED = 5, 6, 7


def _ms(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:d}:{m:02d}:{s:02d}.{ms:03d}"


class MainWindow(QMainWindow):
    def __init__(self, engine_factory=None) -> None:
        super().__init__()
        self.setWindowTitle("Dubsmith")
        self.resize(980, 620)
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

        open_act = QAction(
            "&Open video…", self, shortcut=QKeySequence.Open, triggered=self.choose_video
        )
        subs_act = QAction("Open &subtitles…", self, triggered=self.choose_subtitles)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(open_act)
        menu.addAction(subs_act)
        menu.addSeparator()
        menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.Quit, triggered=self.close))

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)

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
        form.addWidget(QLabel("Emotion"))
        form.addWidget(self.emotion)
        run = QHBoxLayout()
        run.addWidget(self.dub_btn)
        run.addWidget(self.cancel_btn)
        run.addWidget(self.progress, 1)
        run.addWidget(self.step_label)

        box = QVBoxLayout()
        box.addWidget(self.source_label)
        box.addWidget(self.table, 1)
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
        self.inputs = inputs
        self.subtitles = inputs.subtitles.path
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
        self.statusBar().showMessage(f"Opened {video.name}")
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
        self.worker = DubWorker(self.inputs.video, options, self.engine_factory)
        self.worker.progress.connect(self.on_progress)
        self.worker.finished.connect(self.on_finished)
        self.worker.failed.connect(self.on_failed)
        self.worker.cancelled.connect(self.on_cancelled)
        self.dub_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
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
