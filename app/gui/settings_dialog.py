"""Settings: the model folder (checked before it is kept: what is missing and how to get
it), device and precision, where the lines render (this computer or a Ray cluster), the
dub's rendering settings and the export defaults."""

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
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.desk import status as desk
from core.errors import OptionError
from core.job.cluster import RenderOn, engines_for, render_on_problem
from core.settings import BackgroundMode, DefaultEmotion, DubSettings
from models.contract import DurationMode

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Every mode the engine knows, so a project in a new default mode never shows (and saves) another.
MODE_BLURBS = {
    DurationMode.GUIDED: "guided: paced toward its span, fitted exactly",
    DurationMode.EXACT: "exact: every line fills its span",
    DurationMode.NATURAL: "natural: free pace, fitted",
    DurationMode.FREE: "free: free pace, never fitted",
}
MODES = tuple(DurationMode)
RENDER_ON = ("this computer", "Ray cluster")
MODE_LABELS = tuple(MODE_BLURBS.get(m, m.value) for m in MODES)  # of MODES


@dataclass
class SettingsChoice:
    model_dir: Path
    device: str
    precision: str
    changes: dict  # dub settings


class SettingsDialog(QDialog):
    def __init__(
        self, parent, model_dir: str, device: str, precision: str, settings: DubSettings
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(640, 460)
        self.model_dir = QLineEdit(model_dir)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        check = QPushButton("Check")
        check.clicked.connect(self.check)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(device if device in DEVICES else "auto")
        self.precision = QComboBox()
        self.precision.addItems(PRECISIONS)
        self.precision.setCurrentText(precision if precision in PRECISIONS else "auto")

        self.mode = QComboBox()
        self.mode.addItems(MODE_LABELS)
        self.mode.setCurrentIndex(
            MODES.index(settings.duration_mode) if settings.duration_mode in MODES else 0
        )
        self.flow_steps = QSpinBox()
        self.flow_steps.setRange(0, 200)
        self.flow_steps.setSpecialValueText("engine default")
        self.flow_steps.setValue(settings.flow_steps or 0)
        self.language = QLineEdit(settings.language or "")
        self.language.setPlaceholderText("from the subtitles' name (e.g. movie.de.srt)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.seed.setValue(settings.seed)
        self.emotion = QComboBox()
        self.emotion.addItems([e.value for e in DefaultEmotion])
        self.emotion.setCurrentText(settings.emotion.value)
        self.retakes = QSpinBox()
        self.retakes.setRange(0, 10)
        self.retakes.setValue(settings.retakes)

        self.background = QComboBox()
        self.background.addItems([b.value for b in BackgroundMode])
        self.background.setCurrentText(settings.background.value)
        self.duck_db = QDoubleSpinBox()
        self.duck_db.setRange(-60.0, 0.0)
        self.duck_db.setSuffix(" dB")
        self.duck_db.setValue(settings.duck_db)
        self.keep_original = QCheckBox("Keep the original audio as a second track")
        self.keep_original.setChecked(settings.keep_original_track)
        self.subtitle_track = QCheckBox("Add the subtitles as a track")
        self.subtitle_track.setChecked(settings.subtitle_track)
        remembered = remembered_render_on(QSettings("Dubsmith", "Dubsmith"), check=False)
        self.render_on = QComboBox()
        self.render_on.addItems(RENDER_ON)
        self.render_on.setCurrentIndex(int(remembered.cluster))
        self.cluster_address = QLineEdit(remembered.address)
        self.cluster_address.setPlaceholderText("ray://HOST:10001, HOST:6379, auto or local")
        self.cluster_workers = QSpinBox()
        self.cluster_workers.setRange(1, 512)
        self.cluster_workers.setValue(remembered.workers)
        self.render_on.currentIndexChanged.connect(self._cluster_fields)
        self._cluster_fields()
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b")

        models = QWidget()
        mform = QFormLayout(models)
        row = QHBoxLayout()
        row.addWidget(self.model_dir, 1)
        row.addWidget(browse)
        row.addWidget(check)
        mform.addRow("Model folder", row)
        mform.addRow(self.report)
        mform.addRow("Device", self.device)
        mform.addRow("Precision", self.precision)
        mform.addRow("Render on", self.render_on)
        mform.addRow("Cluster address", self.cluster_address)
        mform.addRow("Ray workers", self.cluster_workers)
        render = QWidget()
        rform = QFormLayout(render)
        rform.addRow("Duration", self.mode)
        rform.addRow("Flow steps", self.flow_steps)
        rform.addRow("Language", self.language)
        rform.addRow("Seed", self.seed)
        rform.addRow("Default emotion", self.emotion)
        rform.addRow("Retakes", self.retakes)
        export = QWidget()
        eform = QFormLayout(export)
        eform.addRow("Background", self.background)
        eform.addRow("Duck level", self.duck_db)
        eform.addRow("", self.keep_original)
        eform.addRow("", self.subtitle_track)
        self.tabs = QTabWidget()
        self.tabs.addTab(models, "Models")
        self.tabs.addTab(render, "Rendering")
        self.tabs.addTab(export, "Export defaults")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(self.tabs, 1)
        box.addWidget(self.error)
        box.addWidget(buttons)
        self.check()

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder", self.model_dir.text())
        if path:
            self.model_dir.setText(path)
            self.check()

    def _cluster_fields(self) -> None:
        on = self.render_on.currentIndex() == 1
        self.cluster_address.setEnabled(on)
        self.cluster_workers.setEnabled(on)

    def render_on_choice(self) -> RenderOn:
        return RenderOn(
            cluster=self.render_on.currentIndex() == 1,
            address=self.cluster_address.text().strip() or "local",
            workers=self.cluster_workers.value(),
        )

    def check(self) -> desk.FolderCheck:
        result = desk.check_model_folder(Path(self.model_dir.text().strip() or "."))
        self.report.setPlainText("\n".join(result.rows))
        return result

    def choice(self) -> SettingsChoice:
        return SettingsChoice(
            model_dir=Path(self.model_dir.text().strip()).expanduser(),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            changes={
                "duration_mode": MODES[self.mode.currentIndex()].value,
                "flow_steps": self.flow_steps.value() or None,
                "language": self.language.text().strip() or None,
                "seed": self.seed.value(),
                "emotion": self.emotion.currentText(),
                "retakes": self.retakes.value(),
                "background": self.background.currentText(),
                "duck_db": self.duck_db.value(),
                "keep_original_track": self.keep_original.isChecked(),
                "subtitle_track": self.subtitle_track.isChecked(),
            },
        )

    def settings(self, base: DubSettings) -> DubSettings:
        """The dub settings chosen, on top of `base`; OptionError for a bad one. None values
        (no flow steps, no language) are set as None, not left as they were."""
        changes = self.choice().changes
        settings = base.with_changes(**{k: v for k, v in changes.items() if v is not None})
        settings.flow_steps, settings.language = changes["flow_steps"], changes["language"]
        settings.validate()
        return settings

    def accept(self) -> None:
        try:
            self.settings(DubSettings())
        except OptionError as exc:
            self.error.setText(str(exc))
            self.tabs.setCurrentIndex(1)
            return
        render_on = self.render_on_choice()
        problem = render_on_problem(render_on)  # nothing is started, only looked at
        if problem:
            self.error.setText(f"Cannot render on the Ray cluster: {problem}")
            self.tabs.setCurrentIndex(0)
            return
        result = self.check()
        if not result.ok:
            self.tabs.setCurrentIndex(0)
            answer = QMessageBox.question(
                self,
                "Model folder incomplete",
                "The speech engine cannot load from this folder:\n\n"
                + result.rows[0][:600]
                + "\n\nKeep this folder anyway?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        remember_render_on(QSettings("Dubsmith", "Dubsmith"), render_on)
        super().accept()


# --- Render on: kept in QSettings, the queue's engines follow it --------------------------------


def remembered_render_on(settings: QSettings, *, check: bool = True) -> RenderOn:
    """The Render on kept in `settings`; with `check`, this computer when the kept cluster
    cannot be used now (Ray gone, the address no longer one). Nothing is reached."""
    try:
        workers = max(1, int(settings.value("cluster_workers", 2)))
    except (TypeError, ValueError):  # a hand-edited settings file
        workers = 2
    choice = RenderOn(
        cluster=str(settings.value("render_on", "local")) == "cluster",
        address=str(settings.value("cluster_address", "local")),
        workers=workers,
    )
    if check and render_on_problem(choice, reach=False):
        return RenderOn(address=choice.address, workers=choice.workers)
    return choice


def remember_render_on(settings: QSettings, choice: RenderOn) -> None:
    settings.setValue("render_on", "cluster" if choice.cluster else "local")
    settings.setValue("cluster_address", choice.address)
    settings.setValue("cluster_workers", choice.workers)


def render_with(worker, choice: RenderOn, here=None, *, busy: bool = False) -> None:
    """The queue worker's engines from now on (core/job/cluster.py: engines_for)."""
    worker.engines = engines_for(worker.engines, choice, here, busy=busy)
