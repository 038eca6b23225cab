"""The speakers: each one's name, line count, prompt and its score; play the prompt,
replace it from a file or from the selected lines, rename, merge two. The panel asks; the
window applies each change through its undo stack."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import project as proj
from core.desk import status as desk

AUDIO_FILES = "Audio (*.wav *.flac *.mp3 *.ogg *.m4a *.aac *.opus);;All files (*)"


def prompt_text(speaker: proj.Speaker) -> str:
    if speaker.prompt_path is not None:
        return f"file {speaker.prompt_path.name}"
    if speaker.prompt_lines:
        return f"cut from {len(speaker.prompt_lines)} chosen line(s)"
    if speaker.prompt_parts:
        seconds = sum(p.end_ms - p.start_ms for p in speaker.prompt_parts) / 1000
        return f"cut from the video ({seconds:.1f} s)"
    return "cut from the video at the next render"


class SpeakersPanel(QWidget):
    play_prompt = Signal(str)  # speaker id
    voice_file = Signal(str, object)  # speaker id, Path
    from_lines = Signal(str)  # speaker id: the prompt from the selected lines
    rename = Signal(str, str)  # speaker id, new name
    merge = Signal(str, str)  # kept speaker id, merged-away speaker id

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Speaker", "Lines", "Prompt", "Score"])
        self.tree.setRootIsDecorated(False)
        for col, width in enumerate((110, 45, 220)):
            self.tree.setColumnWidth(col, width)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b35c00")
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for n, (key, label, tip) in enumerate(
            (
                ("play", "Play prompt", "Hear the voice sample this speaker is cloned from"),
                ("file", "Voice file…", "Use a recording of this voice instead (WAV, FLAC, MP3)"),
                ("lines", "From selected lines", "Cut the prompt only from the selected lines"),
                ("rename", "Rename…", "Give the speaker a name"),
                ("merge", "Merge into…", "These lines are another speaker's: merge the two"),
            )
        ):
            btn = QPushButton(label)
            btn.setToolTip(tip)
            btn.clicked.connect(getattr(self, f"_{key}"))
            grid.addWidget(btn, n // 2, n % 2)
            self.buttons[key] = btn
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.notice)
        box.addWidget(self.tree, 1)
        box.addLayout(grid)
        self.project: proj.Project | None = None

    def show_project(self, project: proj.Project | None, needs_files: bool = False) -> None:
        """`needs_files`: the video has no audio, so every speaker needs a voice file."""
        self.project = project
        current = self.selected_id()
        self.tree.clear()
        if project is None:
            return
        counts = desk.line_counts(project)
        missing = []
        for speaker in project.speakers:
            if counts.get(speaker.id, 0) == 0:
                continue  # a speaker no line has (merged away, or from older subtitles)
            score = "" if speaker.prompt_score is None else f"{speaker.prompt_score:.2f}"
            item = QTreeWidgetItem(
                [speaker.name, str(counts.get(speaker.id, 0)), prompt_text(speaker), score]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, speaker.id)
            item.setForeground(0, QBrush(QColor(speaker.colour)))
            item.setToolTip(2, str(speaker.prompt_path or ""))
            self.tree.addTopLevelItem(item)
            if speaker.id == current:
                self.tree.setCurrentItem(item)
            if needs_files and speaker.prompt_path is None:
                missing.append(speaker.name)
        if missing:
            self.notice.setText(
                "This video has no audio: give each speaker a voice file (Voice file…). "
                f"Still needed: {', '.join(missing)}."
            )
        else:
            self.notice.setText("")
        if self.tree.currentItem() is None and self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))

    def selected_id(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def select(self, speaker_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == speaker_id:
                self.tree.setCurrentItem(item)

    # --- asking -------------------------------------------------------------------------

    def _play(self) -> None:
        if (sid := self.selected_id()) is not None:
            self.play_prompt.emit(sid)

    def _file(self) -> None:
        sid = self.selected_id()
        if sid is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Voice file", "", AUDIO_FILES)
        if path:
            self.voice_file.emit(sid, Path(path))

    def _lines(self) -> None:
        if (sid := self.selected_id()) is not None:
            self.from_lines.emit(sid)

    def _rename(self) -> None:
        sid = self.selected_id()
        speaker = self.project.speaker(sid) if self.project and sid else None
        if speaker is None:
            return
        name, ok = QInputDialog.getText(self, "Rename speaker", "Name", text=speaker.name)
        if ok and name.strip():
            self.rename.emit(sid, name.strip())

    def _merge(self) -> None:
        sid = self.selected_id()
        if sid is None or self.project is None:
            return
        counts = desk.line_counts(self.project)
        others = [s for s in self.project.speakers if s.id != sid and counts.get(s.id)]
        if not others:
            return
        names = [f"{s.name} ({s.id})" for s in others]
        choice, ok = QInputDialog.getItem(
            self, "Merge speakers", "Give this speaker's lines to", names, 0, False
        )
        if ok:
            self.merge.emit(others[names.index(choice)].id, sid)
