"""The Export dialog: where and how the dubbed video is written (container, the original
as a second track, the background under the dub, subtitles as a track, stems, a report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from core.settings import BackgroundMode, DubSettings

# What goes under the dub, in the order offered (index 0, duck, stays first).
BACKGROUNDS = (
    (BackgroundMode.DUCK, "duck: the original, lowered, under the dub"),
    (BackgroundMode.REPLACE, "replace: the dub alone"),
    (BackgroundMode.SEPARATE, "separate: the original's music and effects (needs separation/)"),
    (BackgroundMode.AUTO, "auto: separate when the separation model is installed, else duck"),
)
DUCKING = (BackgroundMode.DUCK, BackgroundMode.AUTO)  # the modes the duck level can apply to

CONTAINERS = {"MP4": ".mp4", "Matroska (MKV)": ".mkv"}


@dataclass
class ExportChoice:
    output: Path
    changes: dict  # dub settings: background, duck_db, keep_original_track, subtitle_track
    stems_dir: Path | None = None
    report_path: Path | None = None


def _path_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    row = QWidget()
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    box.addWidget(edit, 1)
    box.addWidget(button)
    return row


class ExportDialog(QDialog):
    def __init__(self, parent, output: str, settings: DubSettings, has_audio: bool) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export the dub")
        self.output = QLineEdit(output)
        out_btn = QPushButton("Browse…")
        out_btn.clicked.connect(self._choose_output)
        self.container = QComboBox()
        self.container.addItems(list(CONTAINERS))
        suffix = Path(output).suffix.lower()
        self.container.setCurrentIndex(1 if suffix == ".mkv" else 0)
        self.container.currentIndexChanged.connect(self._container_changed)
        self.keep_original = QCheckBox("Keep the original audio as a second track")
        self.keep_original.setChecked(settings.keep_original_track)
        self.keep_original.setEnabled(has_audio)
        self.background = QComboBox()
        self.background.addItems([label for _, label in BACKGROUNDS])
        modes = [mode for mode, _ in BACKGROUNDS]
        self.background.setCurrentIndex(modes.index(BackgroundMode(settings.background)))
        self.duck_db = QDoubleSpinBox()
        self.duck_db.setRange(-60.0, 0.0)
        self.duck_db.setSuffix(" dB")
        self.duck_db.setValue(settings.duck_db)
        self.background.currentIndexChanged.connect(
            lambda i: self.duck_db.setEnabled(BACKGROUNDS[i][0] in DUCKING and has_audio)
        )
        self.duck_db.setEnabled(
            BACKGROUNDS[self.background.currentIndex()][0] in DUCKING and has_audio
        )
        self.subtitle_track = QCheckBox("Add the subtitles as a track")
        self.subtitle_track.setChecked(settings.subtitle_track)
        self.stems = QLineEdit()
        self.stems.setPlaceholderText("optional: a folder for one WAV per line")
        stems_btn = QPushButton("Browse…")
        stems_btn.clicked.connect(self._choose_stems)
        self.report = QLineEdit()
        self.report.setPlaceholderText("optional: a JSON report of every line")
        report_btn = QPushButton("Browse…")
        report_btn.clicked.connect(self._choose_report)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("Output", _path_row(self.output, out_btn))
        form.addRow("Container", self.container)
        form.addRow("Background", self.background)
        form.addRow("Duck level", self.duck_db)
        form.addRow("", self.keep_original)
        form.addRow("", self.subtitle_track)
        form.addRow("Stems", _path_row(self.stems, stems_btn))
        form.addRow("Report", _path_row(self.report, report_btn))
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _container_changed(self, i: int) -> None:
        text = self.output.text().strip()
        if text:
            self.output.setText(str(Path(text).with_suffix(list(CONTAINERS.values())[i])))

    def _choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Dubbed video", self.output.text(), "MP4 (*.mp4);;Matroska (*.mkv)"
        )
        if path:
            self.output.setText(path)

    def _choose_stems(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the stems")
        if path:
            self.stems.setText(path)

    def _choose_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Report", "", "JSON (*.json)")
        if path:
            self.report.setText(path)

    def choice(self) -> ExportChoice:
        out = Path(self.output.text().strip()).expanduser()
        suffix = list(CONTAINERS.values())[self.container.currentIndex()]
        if out.suffix.lower() != suffix:
            out = out.with_suffix(suffix)
        return ExportChoice(
            output=out,
            changes={
                "background": BACKGROUNDS[self.background.currentIndex()][0].value,
                "duck_db": self.duck_db.value(),
                "keep_original_track": self.keep_original.isChecked(),
                "subtitle_track": self.subtitle_track.isChecked(),
            },
            stems_dir=Path(self.stems.text().strip()) if self.stems.text().strip() else None,
            report_path=Path(self.report.text().strip()) if self.report.text().strip() else None,
        )

    def accept(self) -> None:
        if not self.output.text().strip():
            self.error.setText("Choose where to write the dubbed video.")
            return
        if not self.choice().output.parent.is_dir():
            self.error.setText(f"The folder {self.choice().output.parent} does not exist.")
            return
        super().accept()
