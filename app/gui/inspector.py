"""The line inspector: the line's emotion (the emotion panel, with presets), its duration mode
(as the dub, or its own), its takes (several kept, one chosen, each playable, two compared
A/B over the line's picture), and Preview / Regenerate of just this line."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.line_panel import LinePanel
from app.gui.settings_dialog import MODES
from app.gui.take_compare import TakeCompare
from app.gui.video_preview import VideoPreview
from core import project as proj
from core.desk import status as desk
from core.desk import takes as desk_takes
from core.settings import DubSettings
from models.contract import EMOTION_NAMES, DurationMode

MODE_TIPS = {
    DurationMode.GUIDED: "paced toward the span's length, then fitted to it exactly",
    DurationMode.EXACT: "exactly the span's length",
    DurationMode.NATURAL: "its own pace, fitted to the span when close enough, else flagged",
    DurationMode.FREE: "its own pace, never fitted",
}

OUTLINE = QSize(64, 14)  # the small waveform by each take's name
OUTLINES_KEPT = 256  # take files are named by their content: an outline never goes stale

PRESETS_FILE = Path(__file__).resolve().parents[2] / "resources" / "emotion_presets.json"


def load_presets(path: Path = PRESETS_FILE) -> list[tuple[str, proj.Emotion]]:
    """(name, emotion) of each preset; none when the file is missing (a bare install)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    presets = []
    for p in data.get("presets", []):
        weights = p.get("vector", {})
        vector = tuple(float(weights.get(n, 0.0)) for n in EMOTION_NAMES)
        emotion = proj.Emotion(
            mode=proj.EmotionMode.VECTOR, vector=vector, alpha=float(p.get("alpha", 1.0))
        )
        presets.append((str(p["name"]), emotion))
    return presets


def take_label(take: proj.Take, chosen: bool, mark: str = "", heard: bool = False) -> str:
    seconds = take.rendered_samples / desk.RATE_22K
    parts = [f"seed {take.seed}", f"{seconds:.2f} s", take.when.strftime("%H:%M:%S")]
    if isinstance(take.extra.get("error_rate"), int | float):
        parts.append(f"err {take.extra['error_rate']:.0%}")
    if isinstance(take.extra.get("voice_similarity"), int | float):
        parts.append(f"sim {take.extra['voice_similarity']:.2f}")
    if take.flag:
        parts.append("flagged")
    # The A/B mark (▶ on the heard one) follows the chosen dot, before the seed: a glance
    # down the list finds the two compared takes.
    ab = (("▶" if heard else "") + mark + " ") if mark else ""
    return ("● " if chosen else "○ ") + ab + " · ".join(parts)


class LineInspector(QWidget):
    preset_chosen = Signal(object)  # an Emotion
    preview_clicked = Signal()
    regenerate_clicked = Signal()
    play_take = Signal(object)  # the take's WAV path
    use_take = Signal(int)  # position of the take in the line's takes
    # The editor chose the line's duration mode (a DurationMode, or None: as the dub); the
    # window applies it through its undo stack.
    duration_mode_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line: proj.Line | None = None
        self.panel = LinePanel()
        self.presets = load_presets()
        self.preset = QComboBox()
        self.preset.addItem("Preset…")
        for name, _ in self.presets:
            self.preset.addItem(name)
        self.preset.setEnabled(bool(self.presets))
        self.preset.setToolTip("Set the sliders to a preset (undoable)")
        self.preset.activated.connect(self._preset)
        self.mode_box = QComboBox()
        self.mode_box.setToolTip(
            "How this line's length is made: as the dub (Settings), or its own (undoable)"
        )
        self.mode_box.activated.connect(self._mode)
        self.dub_mode = DubSettings().duration_mode  # what "As the dub" stands for, per shown line
        self.mode_choices: list[DurationMode | None] = []  # the box's entries, in order
        self._fill_modes(None)
        self.duration = QLabel("")
        self.duration.setWordWrap(True)

        self.preview_btn = QPushButton("Preview")
        self.preview_btn.setToolTip("Render just this line and play it (P)")
        self.preview_btn.clicked.connect(self.preview_clicked)
        self.regenerate_btn = QPushButton("Regenerate")
        self.regenerate_btn.setToolTip("A new take of this line with a new seed (R)")
        self.regenerate_btn.clicked.connect(self.regenerate_clicked)
        self.takes = QListWidget()
        self.takes.setMaximumHeight(80)
        self.takes.setIconSize(OUTLINE)
        self.outlines: dict[str, QIcon] = {}
        self.takes.itemDoubleClicked.connect(lambda _: self._play())
        self.play_btn = QPushButton("Play take")
        self.play_btn.clicked.connect(self._play)
        self.use_btn = QPushButton("Use this take")
        self.use_btn.setToolTip("The dub and the export use the selected take (A)")
        self.use_btn.clicked.connect(self.accept_selected)
        self.compare = TakeCompare(self.takes)
        self.compare.keep.connect(self.use_take)
        self.compare.marks_changed.connect(self._label_takes)
        self.state = QLabel("")
        self.state.setWordWrap(True)

        render_row = QHBoxLayout()
        render_row.addWidget(self.preview_btn)
        render_row.addWidget(self.regenerate_btn)
        ab = self.compare
        take_row = QHBoxLayout()
        for w in (self.play_btn, self.use_btn, ab.compare_btn):
            take_row.addWidget(w)
        ab_row = QHBoxLayout()
        for w in (ab.mark_a_btn, ab.mark_b_btn, ab.keep_a_btn, ab.keep_b_btn):
            ab_row.addWidget(w)
        takes_box = QGroupBox("Takes")
        takes_layout = QVBoxLayout(takes_box)
        # Which take is heard first, above the list: at 1280x800 the box's foot is scrolled.
        takes_layout.addWidget(ab.state)
        takes_layout.addWidget(self.takes)
        takes_layout.addLayout(take_row)
        takes_layout.addLayout(ab_row)

        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        # Preview, Regenerate and the takes first: at 1280x800 they were below the fold.
        box.addLayout(render_row)
        box.addWidget(self.state)
        box.addWidget(takes_box)
        box.addWidget(self.panel, 1)
        box.addWidget(self.preset)
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Duration:"))
        mode_row.addWidget(self.mode_box, 1)
        box.addLayout(mode_row)
        box.addWidget(self.duration)
        self.show_line(None)

    def show_line(self, line: proj.Line | None, status: str = "", mode: str = "exact") -> None:
        self.line = line
        self.panel.show_line(line)
        self.takes.clear()
        self.compare.show_line(line)
        on = line is not None
        for w in (self.preview_btn, self.regenerate_btn, self.preset):
            w.setEnabled(on and (w is not self.preset or bool(self.presets)))
        self.dub_mode = DurationMode(mode)
        self._fill_modes(line)
        if line is None:
            self.duration.setText("")
            self.state.setText("")
            self.play_btn.setEnabled(False)
            self.use_btn.setEnabled(False)
            return
        effective = proj.effective_mode(line, self.dub_mode)
        self.duration.setText(
            f"Renders {effective.value}: {MODE_TIPS.get(effective, effective.value)} "
            f"({line.duration_ms / 1000:.2f} s span)"
        )
        self.state.setText(f"Status: {status}" if status else "")
        for take in line.takes:
            item = QListWidgetItem(self._outline(Path(take.cache_path)), "")
            item.setToolTip(str(take.cache_path))
            self.takes.addItem(item)
        self._label_takes()
        chosen = desk.usable_take(line)
        if line.takes:
            self.takes.setCurrentRow(line.takes.index(chosen) if chosen else len(line.takes) - 1)
        self.play_btn.setEnabled(bool(line.takes))
        self.use_btn.setEnabled(len(line.takes) > 1)

    def _label_takes(self) -> None:
        if self.line is None:
            return
        chosen = desk.usable_take(self.line)
        for row, take in enumerate(self.line.takes):
            if (item := self.takes.item(row)) is not None:
                heard = self.compare.is_heard(row)
                item.setText(take_label(take, take is chosen, self.compare.mark_of(row), heard))
                font = item.font()
                font.setBold(heard)
                item.setFont(font)
        # As high as its takes (up to four rows): the room below is the A/B's.
        rows = max(2, min(4, self.takes.count()))
        self.takes.setMaximumHeight(rows * max(16, self.takes.sizeHintForRow(0)) + 6)

    def _outline(self, wav: Path) -> QIcon:
        key = str(wav)
        if key not in self.outlines:
            if len(self.outlines) >= OUTLINES_KEPT:
                self.outlines.clear()
            peaks = desk_takes.take_outline(wav, OUTLINE.width())
            pixmap = QPixmap(OUTLINE)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setPen(QColor("#4a6f8a"))
            mid = OUTLINE.height() / 2
            for x, peak in enumerate(peaks):
                half = max(0.5, float(peak) * mid)
                painter.drawLine(x, round(mid - half), x, round(mid + half))
            painter.end()
            self.outlines[key] = QIcon(pixmap)
        return self.outlines[key]

    def attach_preview(self, preview: VideoPreview) -> None:
        """The players A/B drives (the window's video preview)."""
        self.compare.attach_preview(preview)

    def showEvent(self, event) -> None:  # noqa: N802  (Qt's name)
        # The window shows its inspector: its preview is there by now.
        self.compare.find_preview()
        super().showEvent(event)

    def _fill_modes(self, line: proj.Line | None) -> None:
        """ "As the dub (<mode>)" first (None), then each mode; a mode the list lacks (one
        written into the file by hand) is shown too, so the line's choice is never hidden."""
        own = None if line is None else line.duration_mode
        # The modes a line may choose: those the Settings dialog offers for the dub.
        choices: list[DurationMode | None] = [None, *MODES]
        if own is not None and own not in choices:
            choices.append(own)
        self.mode_choices = choices  # kept here: Qt's item data would turn enums into str
        self.mode_box.clear()
        for choice in choices:
            label = f"As the dub ({self.dub_mode.value})" if choice is None else choice.title()
            self.mode_box.addItem(label)
        self.mode_box.setCurrentIndex(choices.index(own))
        self.mode_box.setEnabled(line is not None)

    def _mode(self, row: int) -> None:
        if self.line is None or not 0 <= row < len(self.mode_choices):
            return
        chosen = self.mode_choices[row]
        if chosen is not self.line.duration_mode:
            self.duration_mode_chosen.emit(chosen)
        # The box shows what the line holds: the choice if the window applied it, else not.
        self._fill_modes(self.line)

    def _preset(self, row: int) -> None:
        if row > 0 and self.line is not None:
            self.preset_chosen.emit(self.presets[row - 1][1])
        self.preset.setCurrentIndex(0)

    def _play(self) -> None:
        row = self.takes.currentRow()
        if self.line is not None and 0 <= row < len(self.line.takes):
            self.play_take.emit(self.line.takes[row].cache_path)

    def accept_selected(self) -> None:
        row = self.takes.currentRow()
        if self.line is not None and 0 <= row < len(self.line.takes):
            self.use_take.emit(row)

    def set_busy(self, busy: bool) -> None:
        self.panel.setEnabled(not busy and self.line is not None)
        for w in (self.preview_btn, self.regenerate_btn, self.preset, self.mode_box):
            w.setEnabled(not busy and self.line is not None)
        # A choice needs a second take to choose (as show_line says); a render ending must
        # not offer it on a line with one take or none.
        self.use_btn.setEnabled(not busy and self.line is not None and len(self.line.takes) > 1)
