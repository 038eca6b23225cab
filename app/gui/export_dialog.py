"""The Export dialog: where and how the dubbed video is written (container, the original
as a second track, the background under the dub, subtitles as a track, stems, a report),
and for the desk's Export the mix's loudness preset and the deliverables (timelines,
stems, QC report: core/deliver/), remembered between sessions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
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

from core.audio.loudness_presets import PRESETS
from core.deliver.parts import PART_ORDER, TIMELINE_PARTS, DeliverPart, DeliverParts
from core.desk.export import PART_LABELS, DeskDelivery, delivery_problem
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
    delivery: DeskDelivery | None = None  # the desk's Export: loudness and deliverables


def _path_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    return _row(edit, button, stretch=edit)


def _row(*widgets: QWidget, stretch: QWidget | None = None) -> QWidget:
    row = QWidget()
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        box.addWidget(w, 1 if w is stretch else 0)
    if stretch is None:
        box.addStretch(1)
    return row


class ExportDialog(QDialog):
    """``delivery_memory`` (the window's QSettings) makes it the desk's Export: it offers
    the loudness preset and the deliverables, and remembers them there when accepted.
    Without it (the queue's job settings) neither is offered."""

    def __init__(
        self,
        parent,
        output: str,
        settings: DubSettings,
        has_audio: bool,
        delivery_memory: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.delivery_memory = delivery_memory
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
        if delivery_memory is not None:
            self._add_delivery(form, DeskDelivery.from_memory(delivery_memory.value))
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _add_delivery(self, form: QFormLayout, last: DeskDelivery) -> None:
        """The loudness preset and the deliverables, as last chosen."""
        self.loudness = QComboBox()
        self.loudness.setAccessibleName("Loudness preset")
        self.loudness.addItems([f"{p.name}: {p.summary}" for p in PRESETS.values()])
        self.loudness.setCurrentIndex(list(PRESETS).index(last.loudness))
        self.deliver_folder = QLineEdit(str(last.folder) if last.folder else "")
        self.deliver_folder.setAccessibleName("Deliverables folder")
        self.deliver_folder.setPlaceholderText("optional: a folder for timelines, stems, QC report")
        folder_btn = QPushButton("Browse…")
        folder_btn.setAccessibleName("Choose the deliverables folder")
        folder_btn.clicked.connect(self._choose_deliver_folder)
        self.parts: dict[DeliverPart, QCheckBox] = {}
        for part in PART_ORDER:
            box = QCheckBox(PART_LABELS[part])
            box.setAccessibleName(f"Deliver {PART_LABELS[part]}")
            box.setChecked(part in last.parts)
            self.parts[part] = box
        timelines = [self.parts[p] for p in TIMELINE_PARTS]
        others = [box for p, box in self.parts.items() if p not in TIMELINE_PARTS]
        form.addRow("Loudness", self.loudness)
        form.addRow("Deliverables", _path_row(self.deliver_folder, folder_btn))
        form.addRow("Timelines", _row(*timelines))
        form.addRow("", _row(*others))
        self.deliver_folder.textChanged.connect(self._delivery_enabled)
        self._delivery_enabled()

    def _delivery_enabled(self) -> None:
        on = bool(self.deliver_folder.text().strip())  # no folder: nothing is delivered
        for box in self.parts.values():
            box.setEnabled(on)

    def _choose_deliver_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the deliverables")
        if path:
            self.deliver_folder.setText(path)

    def _ticked(self) -> list[DeliverPart]:
        return [p for p, box in self.parts.items() if box.isChecked()]

    def _delivery(self) -> DeskDelivery | None:
        if self.delivery_memory is None:
            return None
        folder = self.deliver_folder.text().strip()
        ticked = self._ticked()
        return DeskDelivery(
            loudness=list(PRESETS)[self.loudness.currentIndex()],
            folder=Path(folder).expanduser() if folder else None,
            # With no folder nothing is delivered; the ticks are still remembered.
            parts=DeliverParts.of(ticked) if ticked else DeliverParts(),
        )

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
            delivery=self._delivery(),
        )

    def accept(self) -> None:
        if not self.output.text().strip():
            self.error.setText("Choose where to write the dubbed video.")
            return
        if not self.choice().output.parent.is_dir():
            self.error.setText(f"The folder {self.choice().output.parent} does not exist.")
            return
        if self.delivery_memory is not None:
            problem = delivery_problem(self.deliver_folder.text(), self._ticked())
            if problem:
                self.error.setText(problem)
                return
            self._remember()
        super().accept()

    def _remember(self) -> None:
        """The next Export offers the same preset, folder and parts."""
        delivery = self._delivery()
        assert self.delivery_memory is not None and delivery is not None
        for key, value in delivery.to_memory().items():
            self.delivery_memory.setValue(key, value)
        self.delivery_memory.sync()
