"""A/B of two takes of the line in the inspector, as a studio's A/B switch: the line's
span plays over its picture with take A; B (the key) switches to the other take at the
same place in the line; Keep A / Keep B chooses one through the window's undoable take
choice. The rules (which takes, where a switch lands) are core/desk/takes.py's."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QPushButton

from app.gui.video_preview import VideoPreview
from app.gui.window_menus import typing_in
from core import project as proj
from core.desk import takes as desk_takes
from core.desk.takes import TakePair

COMPARE_KEY = "B"  # start the A/B; again: switch to the other take
STOP_KEY = "Shift+B"  # stop comparing: the original and the dub are heard again


class TakeCompare(QObject):
    """The A/B's controls (the inspector lays them out by its takes list) and its state."""

    keep = Signal(int)  # position of the take to choose (the window's undoable take choice)
    marks_changed = Signal()  # A, B or the heard one changed: the takes list shows it again

    def __init__(self, takes: QListWidget) -> None:
        super().__init__(takes)
        self.takes = takes  # the inspector's list: its selected row is what Mark A/B marks
        self.line: proj.Line | None = None
        self.pair: TakePair | None = None
        self.pair_paths: tuple[Path, Path] | None = None  # the files of A and B
        self.heard: str | None = None  # "A" or "B" while comparing
        self.preview: VideoPreview | None = None
        self.shortcuts: list[QShortcut] = []

        self.mark_a_btn = QPushButton("Mark A")
        self.mark_a_btn.setToolTip("The selected take is A")
        self.mark_a_btn.clicked.connect(lambda: self.mark("A"))
        self.mark_b_btn = QPushButton("Mark B")
        self.mark_b_btn.setToolTip("The selected take is B")
        self.mark_b_btn.clicked.connect(lambda: self.mark("B"))
        self.compare_btn = QPushButton("Compare A/B")
        self.compare_btn.setToolTip(
            f"Play the line over its picture with take A; again: switch A/B at the same "
            f"place ({COMPARE_KEY}; {STOP_KEY} stops)"
        )
        self.compare_btn.clicked.connect(self.compare_or_switch)
        self.keep_a_btn = QPushButton("Keep A")
        self.keep_a_btn.setToolTip("The dub uses take A (undoable)")
        self.keep_a_btn.clicked.connect(lambda: self.keep_side("A"))
        self.keep_b_btn = QPushButton("Keep B")
        self.keep_b_btn.setToolTip("The dub uses take B (undoable)")
        self.keep_b_btn.clicked.connect(lambda: self.keep_side("B"))
        self.state = QLabel("")
        self.state.setWordWrap(True)
        self.state.setTextFormat(Qt.TextFormat.RichText)
        self.state.setAccessibleName("A/B state")
        self._update()

    # --- wiring ------------------------------------------------------------------------

    def attach_preview(self, preview: VideoPreview) -> None:
        """The players the A/B drives; its keys are bound on the preview's window, so they
        work from every tab, and not while the editor types (as the window's own keys)."""
        if self.preview is preview:
            return
        self.preview = preview
        preview.compare_ended.connect(self._ended)
        host = preview.window()
        for keys, slot in ((COMPARE_KEY, self.compare_or_switch), (STOP_KEY, self.stop)):
            shortcut = QShortcut(QKeySequence(keys), host)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts.append(shortcut)
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self._focus_moved)

    def find_preview(self) -> VideoPreview | None:
        """The window's preview when nobody attached one (the window names it `video`)."""
        if self.preview is None:
            found = getattr(self.takes.window(), "video", None)
            if isinstance(found, VideoPreview):
                self.attach_preview(found)
        return self.preview

    def _focus_moved(self, _old, new) -> None:
        typing = new is not None and typing_in(new)
        for shortcut in self.shortcuts:
            shortcut.setEnabled(not typing)

    # --- the line ----------------------------------------------------------------------

    def show_line(self, line: proj.Line | None) -> None:
        """The inspector shows a line: the same two takes stay A and B (after Keep, undo,
        a new take), else the defaults; another line ends the compare."""
        kept = None
        if line is not None and self.pair_paths is not None:
            kept = desk_takes.pair_again(line, self.pair_paths)
        if kept is None and self.heard is not None and self.preview is not None:
            self.preview.end_compare()
        self.line = line
        self._set_pair(kept or (desk_takes.default_pair(line) if line is not None else None))
        if self.pair is None:
            self.heard = None
        self._update()

    def _set_pair(self, pair: TakePair | None) -> None:
        # The takes' files are kept too: the line shown again may hold its takes elsewhere.
        self.pair = pair
        self.pair_paths = None
        if pair is not None and self.line is not None:
            self.pair_paths = (self._path("A"), self._path("B"))

    def mark_of(self, position: int) -> str:
        """ "A", "B" or "" for the take at this position in the list."""
        if self.pair is None:
            return ""
        return "A" if position == self.pair.a else "B" if position == self.pair.b else ""

    def is_heard(self, position: int) -> bool:
        return self.heard is not None and self.mark_of(position) == self.heard

    def mark(self, which: str) -> None:
        row = self.takes.currentRow()
        if self.line is None or self.pair is None or row not in desk_takes.playable(self.line):
            return
        self._set_pair(desk_takes.mark(self.pair, which, row))
        if self.heard is not None and self.preview is not None:
            # The heard side now names another take: hear that one, at the same place.
            self.preview.switch_take(self._path(self.heard), self._name(self.heard))
        self.marks_changed.emit()
        self._update()

    # --- A/B -----------------------------------------------------------------------------

    def compare_or_switch(self) -> None:
        if self.heard is None:
            self.start()
        else:
            self.switch()

    def start(self) -> None:
        preview = self.find_preview()
        if self.line is None or self.pair is None or preview is None:
            return
        self.heard = "A"
        preview.compare(self._path("A"), self.line.start_ms, self.line.end_ms, self._name("A"))
        self._heard_changed()

    def switch(self) -> None:
        if self.heard is None or self.preview is None or self.pair is None:
            return
        self.heard = "B" if self.heard == "A" else "A"
        self.preview.switch_take(self._path(self.heard), self._name(self.heard))
        self._heard_changed()

    def stop(self) -> None:
        if self.preview is not None:
            self.preview.end_compare()

    def keep_side(self, which: str) -> None:
        if self.pair is not None:
            self.keep.emit(self.pair.side(which))

    def _ended(self) -> None:
        self.heard = None
        self.marks_changed.emit()
        self._update()

    def _path(self, which: str) -> Path:
        assert self.line is not None and self.pair is not None
        return Path(self.line.takes[self.pair.side(which)].cache_path)

    def _name(self, which: str) -> str:
        assert self.line is not None and self.pair is not None
        return desk_takes.side_label(which, self.line, self.pair.side(which))

    def _heard_changed(self) -> None:
        # The list follows the heard take: A (use this take) then keeps what is heard.
        if self.pair is not None and self.heard is not None:
            self.takes.setCurrentRow(self.pair.side(self.heard))
        self.marks_changed.emit()
        self._update()

    def _update(self) -> None:
        on = self.line is not None and self.pair is not None
        for w in (self.mark_a_btn, self.mark_b_btn, self.compare_btn):
            w.setEnabled(on)
        for w in (self.keep_a_btn, self.keep_b_btn):
            w.setEnabled(on)
        self.compare_btn.setText(
            "Compare A/B"
            if self.heard is None
            else f"Switch to {'B' if self.heard == 'A' else 'A'}"
        )
        if self.line is None or self.pair is None:
            self.state.setText(
                "A/B needs two takes (Regenerate makes another)." if self.line else ""
            )
            return
        sides = []
        for which in desk_takes.SIDES:
            text = self._name(which)
            if which == self.heard:
                sides.append(f"<b style='color:#1a5fb4'>▶ Hearing {text}</b>")
            else:
                sides.append(f"<span style='color:#555'>{text}</span>")
        if self.heard is None:
            sides.append(f"<span style='color:#555'>({COMPARE_KEY}: compare)</span>")
        self.state.setText(" &nbsp; ".join(sides))
