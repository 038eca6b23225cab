"""The selected line's emotion: mode, eight sliders, description, reference file, strength.

The panel never changes a line itself: every change is emitted as the line's whole new
`Emotion` (plus a merge key for slider drags), and the window applies it through its undo
stack, then calls `show()` back with what the line now holds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.project import Emotion, EmotionMode
from models.contract import EMOTION_NAMES

# The fields that shape a line's emotion (extra holds unknown keys only).
_FIELDS = ("mode", "vector", "text", "reference_path", "alpha")

DEFAULT = "default"
# Combo entries in order: (label, mode); None is "Default" (the dub's --emotion applies).
MODES: tuple[tuple[str, EmotionMode | None], ...] = (
    ("Default", None),
    ("Voice", EmotionMode.VOICE),
    ("Original line", EmotionMode.ORIGINAL),
    ("Reference file…", EmotionMode.REFERENCE),
    ("Sliders", EmotionMode.VECTOR),
    ("Text", EmotionMode.TEXT),
)
_STEPS = 100  # slider resolution: 0.01
TEXT_ROW = [m for _, m in MODES].index(EmotionMode.TEXT)


def is_default(e: Emotion) -> bool:
    """The line follows the dub's default (what ProjectKeeper.line_emotion checks)."""
    return e.mode is EmotionMode.DEFAULT


def same_emotion(a: Emotion, b: Emotion) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in _FIELDS)


def summary(e: Emotion) -> str:
    """A few words for the table's Emotion column."""
    if is_default(e):
        return ""
    mode = EmotionMode(e.mode)
    if mode is EmotionMode.VECTOR:
        top = sorted(
            ((v, n) for n, v in zip(EMOTION_NAMES, e.vector, strict=True) if v > 0), reverse=True
        )
        text = ", ".join(f"{n} {v:.2f}" for v, n in top[:2]) or "all zero"
        if len(top) > 2:
            text += ", …"
    elif mode is EmotionMode.TEXT:
        text = f"“{e.text}”" if e.text.strip() else "text (empty)"
    elif mode is EmotionMode.REFERENCE:
        text = f"ref {e.reference_path.name}" if e.reference_path else "ref (none)"
    else:
        text = mode.value
    if mode is not EmotionMode.VOICE and e.alpha != 1.0:
        text += f" ×{e.alpha:.2f}"
    return text


class EmotionEdit(QUndoCommand):
    """One line's emotion from `before` to `after`. Consecutive edits with the same merge
    key (one slider drag) collapse into one undo step: see push_emotion_edit."""

    def __init__(self, apply, index: int, before: Emotion, after: Emotion, merge_key=None):
        super().__init__(f"emotion of line {index}")
        self.apply, self.index = apply, index
        self.before, self.after, self.merge_key = before, after, merge_key

    def redo(self) -> None:
        self.apply(self.index, self.after)

    def undo(self) -> None:
        self.apply(self.index, self.before)


def push_emotion_edit(stack: QUndoStack, apply, index: int, before, after, merge_key) -> None:
    """Push an edit, or extend the last one when it is the same drag (same merge key and
    line). Not Qt's id()/mergeWith(): under PySide 6.11 every command merged away stays
    alive in Python, a leak per slider move that a long session notices."""
    top = stack.index()
    last = stack.command(top - 1) if top and top == stack.count() else None
    if (
        merge_key is not None
        and isinstance(last, EmotionEdit)
        and last.merge_key == merge_key
        and last.index == index
    ):
        last.after = after
        apply(index, after)
        return
    stack.push(EmotionEdit(apply, index, before, after, merge_key))


class LinePanel(QWidget):
    # (new Emotion, merge key or None)
    edited = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.emotion: Emotion | None = None  # what the shown line holds
        self.text_unavailable: str | None = None  # why Text cannot be rendered; None: it can
        self._drag = 0  # bumps on every slider release: one drag, one undo step

        self.title = QLabel("No line selected")
        self.title.setWordWrap(True)
        self.mode = QComboBox()
        for label, _ in MODES:
            self.mode.addItem(label)
        self.mode.setToolTip("Default: the dub's Emotion setting applies to this line.")
        self.mode.activated.connect(self._mode_chosen)

        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QLabel] = {}
        sliders_box = QGroupBox("Sliders")
        grid = QFormLayout(sliders_box)
        for name in EMOTION_NAMES:
            s, v = self._slider(), QLabel("0.00")
            v.setMinimumWidth(32)
            s.valueChanged.connect(lambda val, n=name: self._slider_moved(n, val))
            row = QHBoxLayout()
            row.addWidget(s, 1)
            row.addWidget(v)
            grid.addRow(name, row)
            s.setAccessibleName(f"Emotion {name}")
            self.sliders[name], self.values[name] = s, v

        self.text = QLineEdit()
        self.text.setPlaceholderText("e.g. quietly furious")
        self.text.editingFinished.connect(self._text_done)
        # Why a line set to Text will not render as such (the optional model is missing).
        self.text_notice = QLabel("")
        self.text_notice.setWordWrap(True)
        self.text_notice.setStyleSheet("color: #b35c00")
        self.text_notice.setVisible(False)

        self.ref_label = QLabel("no file")
        self.ref_btn = QPushButton("Choose…")
        self.ref_btn.clicked.connect(self.choose_reference)
        ref_row = QHBoxLayout()
        ref_row.addWidget(self.ref_label, 1)
        ref_row.addWidget(self.ref_btn)

        self.alpha = self._slider()
        self.alpha_value = QLabel("1.00")
        self.alpha.valueChanged.connect(self._alpha_moved)
        alpha_row = QHBoxLayout()
        alpha_row.addWidget(self.alpha, 1)
        alpha_row.addWidget(self.alpha_value)

        form = QFormLayout()
        form.addRow("Emotion", self.mode)
        form.addRow("Text", self.text)
        form.addRow(self.text_notice)
        form.addRow("Reference", ref_row)
        form.addRow("Strength", alpha_row)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addLayout(form)
        box.addWidget(sliders_box)
        box.addStretch(1)
        self.show_line(None)

    def _slider(self) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(0, _STEPS)
        s.sliderReleased.connect(self._released)
        return s

    # --- showing ----------------------------------------------------------------------------

    def set_text_emotion(self, reason: str | None) -> None:
        """Offer emotion from a text description (reason None), or disable that choice and
        say why: the line would not render with it."""
        reason = reason[:1].upper() + reason[1:] if reason else None
        self.text_unavailable = reason
        item = self.mode.model().item(TEXT_ROW)  # QComboBox's own QStandardItemModel
        item.setEnabled(reason is None)
        item.setToolTip(reason or "")
        self._refresh()

    def show_line(self, line) -> None:
        """Show a project Line (None: nothing selected)."""
        if line is None:
            self.title.setText("No line selected")
            self.emotion = None
        else:
            self.title.setText(f"Line {line.index}: {line.text}")
            self.emotion = line.emotion
        self._refresh()

    def _refresh(self) -> None:
        e = self.emotion
        widgets = [self.mode, self.text, self.ref_btn, self.alpha, *self.sliders.values()]
        for w in widgets:
            w.blockSignals(True)
        try:
            shown = e or Emotion()
            mode = None if is_default(shown) else EmotionMode(shown.mode)
            self.mode.setCurrentIndex([m for _, m in MODES].index(mode))
            for name, v in zip(EMOTION_NAMES, shown.vector, strict=True):
                self.sliders[name].setValue(round(v * _STEPS))
                self.values[name].setText(f"{v:.2f}")
            if self.text.text() != shown.text:
                self.text.setText(shown.text)
            self.ref_label.setText(shown.reference_path.name if shown.reference_path else "no file")
            self.ref_label.setToolTip(str(shown.reference_path or ""))
            self.alpha.setValue(round(shown.alpha * _STEPS))
            self.alpha_value.setText(f"{shown.alpha:.2f}")
            on = e is not None
            self.mode.setEnabled(on)
            for s in self.sliders.values():
                s.setEnabled(on and mode is EmotionMode.VECTOR)
            self.text.setEnabled(on and mode is EmotionMode.TEXT)
            self.ref_btn.setEnabled(on and mode is EmotionMode.REFERENCE)
            self.alpha.setEnabled(on and mode not in (None, EmotionMode.VOICE))
            blocked = on and mode is EmotionMode.TEXT and self.text_unavailable is not None
            self.text_notice.setText(self.text_unavailable if blocked else "")
            self.text_notice.setVisible(blocked)
        finally:
            for w in widgets:
                w.blockSignals(False)

    # --- editing ----------------------------------------------------------------------------

    def _emit(self, new: Emotion, merge_key=None) -> None:
        if self.emotion is None or same_emotion(new, self.emotion):
            return
        self.edited.emit(new, merge_key)

    def _mode_chosen(self, row: int) -> None:
        if self.emotion is None:
            return
        mode = MODES[row][1]
        if mode is EmotionMode.TEXT and self.text_unavailable is not None:
            self._refresh()  # a disabled entry cannot be chosen; this covers any other way in
            return
        if mode is None:
            self._emit(Emotion())
            return
        new = replace(self.emotion, mode=mode)
        if mode is EmotionMode.REFERENCE and new.reference_path is None:
            path = self._ask_reference()
            if path is None:  # nothing chosen: the line keeps what it had
                self._refresh()
                return
            new = replace(new, reference_path=path)
        self._emit(new)
        self._refresh()  # the window shows the result; this covers a no-op choice

    def _slider_moved(self, name: str, value: int) -> None:
        if self.emotion is None:
            return
        vector = list(self.emotion.vector)
        vector[EMOTION_NAMES.index(name)] = value / _STEPS
        key = ("slider", name, self._drag) if self.sliders[name].isSliderDown() else None
        self._emit(replace(self.emotion, vector=tuple(vector)), key)

    def _alpha_moved(self, value: int) -> None:
        if self.emotion is None:
            return
        key = ("alpha", self._drag) if self.alpha.isSliderDown() else None
        self._emit(replace(self.emotion, alpha=value / _STEPS), key)

    def _released(self) -> None:
        self._drag += 1

    def _text_done(self) -> None:
        if self.emotion is not None and EmotionMode(self.emotion.mode) is EmotionMode.TEXT:
            self._emit(replace(self.emotion, text=self.text.text().strip()))

    def _ask_reference(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Emotion reference audio",
            "",
            "Audio (*.wav *.flac *.mp3 *.ogg *.m4a *.aac *.opus);;All files (*)",
        )
        return Path(path) if path else None

    def choose_reference(self) -> None:
        if self.emotion is None:
            return
        path = self._ask_reference()
        if path is not None:
            self._emit(replace(self.emotion, mode=EmotionMode.REFERENCE, reference_path=path))
