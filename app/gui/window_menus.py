"""The window's menus and its keyboard: every shortcut of app/gui/shortcuts.py bound
once, and the remembered videos of File > Open recent."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from app.gui.shortcuts import SHORTCUTS

RECENT_MAX = 8
TYPING = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)  # where keys are text


def typing_in(widget) -> bool:
    """A cell editor or any text field: its keys are the editor's, not the window's."""
    return isinstance(widget, TYPING) or (isinstance(widget, QComboBox) and widget.isEditable())


class MenusMixin:
    """Part of MainWindow: its menus, shortcuts and undo actions."""

    def _action(
        self, text: str, slot, keys: str | QKeySequence.StandardKey | None = None
    ) -> QAction:
        act = QAction(text, self)
        if isinstance(keys, QKeySequence.StandardKey):
            # Every binding of the platform (Redo: Ctrl+Y and Ctrl+Shift+Z), not the first.
            act.setShortcuts(keys)
        elif keys is not None:
            act.setShortcut(QKeySequence(keys))
        act.triggered.connect(slot)
        return act

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        file.addAction(
            self._action("&Open video…", self.choose_video, QKeySequence.StandardKey.Open)
        )
        file.addAction(self._action("Open &subtitles…", self.choose_subtitles))
        self.recent_menu = file.addMenu("Open &recent")
        self._fill_recent()
        file.addSeparator()
        file.addAction(self._action("&Export…", self.export))
        file.addAction(self._action("Add videos to the &queue…", self.queue_panel._choose))
        file.addSeparator()
        file.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))
        # Our own actions, not createUndoAction(): those re-enable themselves while a dub runs.
        self.undo_act = self._action("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_act = self._action("&Redo", self.redo, QKeySequence.StandardKey.Redo)
        for signal in (
            self.undo_stack.canUndoChanged,
            self.undo_stack.canRedoChanged,
            self.undo_stack.undoTextChanged,
            self.undo_stack.redoTextChanged,
        ):
            signal.connect(self._update_undo_actions)
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(self.undo_act)
        edit.addAction(self.redo_act)
        edit.addSeparator()
        edit.addAction(
            self._action(
                "Apply this line's emotion to the selected lines", self.copy_emotion_to_selected
            )
        )
        edit.addAction(self._action("&Settings…", self.open_settings))
        # Their keys are in the shortcut table (a second binding here would be ambiguous).
        lines_menu = self.menuBar().addMenu("&Lines")
        for name, text in (
            ("split_line", "&Split line"),
            ("merge_with_next", "&Merge with next line"),
            ("insert_line", "&Insert line"),
            ("delete_lines", "&Delete lines"),
        ):
            lines_menu.addAction(self._action(text, getattr(self, name)))
        view = self.menuBar().addMenu("&View")
        view.addAction(self._action("&Light palette", lambda: self.set_theme("light")))
        view.addAction(self._action("&Dark palette", lambda: self.set_theme("dark")))
        render = self.menuBar().addMenu("&Render")
        for name, text in (
            ("start_dub", "Render &all"),
            ("render_stale", "Render &stale"),
            ("preview_line", "&Preview line"),
            ("regenerate_line", "Re&generate line"),
            ("find_speakers", "&Find speakers"),
            ("cancel_dub", "&Cancel"),
        ):
            render.addAction(self._action(text, getattr(self, name)))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard shortcuts", self.show_help))
        self._update_undo_actions()
        # Every shortcut of the table (app/gui/shortcuts.py), bound here, listed by F1.
        self.shortcut_actions: list[QAction] = []
        for name, keys, what in SHORTCUTS:
            if name in ("undo", "redo", "choose_video"):
                continue  # the menus' own actions carry these
            act = self._action(what, getattr(self, name), keys)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(act)
            self.shortcut_actions.append(act)
        # Return played the line instead of committing a cell, Down moved the table under a
        # text field: while the editor types, the single keys are the field's.
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self._focus_moved)

    def _focus_moved(self, _old, new) -> None:
        typing = new is not None and typing_in(new) and self.isAncestorOf(new)
        for act in self.shortcut_actions:
            act.setEnabled(not typing)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_video(Path(p)))
        self.recent_menu.setEnabled(bool(recent))

    def _recent(self) -> list[str]:
        """The remembered videos; QSettings reads a one-item list back as a plain string
        (which a list comprehension split into one menu entry per character)."""
        value = self.settings.value("recent", []) or []
        if isinstance(value, str):
            value = [value]
        return [str(p) for p in value if p]

    def _remember_recent(self, video: Path) -> None:
        recent = [str(video)] + [p for p in self._recent() if p != str(video)]
        self.settings.setValue("recent", recent[:RECENT_MAX])
        self._fill_recent()

    # --- undo -------------------------------------------------------------------------------

    def undo(self) -> None:
        if not self._busy():
            self.undo_stack.undo()

    def redo(self) -> None:
        if not self._busy():
            self.undo_stack.redo()

    def _update_undo_actions(self, *_) -> None:
        idle = not self._busy()
        self.undo_act.setEnabled(idle and self.undo_stack.canUndo())
        self.redo_act.setEnabled(idle and self.undo_stack.canRedo())
        self.undo_act.setText(f"&Undo {self.undo_stack.undoText()}".rstrip())
        self.redo_act.setText(f"&Redo {self.undo_stack.redoText()}".rstrip())
