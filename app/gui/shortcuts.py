"""The desk's keyboard: one table of shortcuts, bound by the window and listed by the help
dialog (F1), so the two never disagree."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout

# (action name on the window, keys, what it does)
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("next_line", "Down", "Next line"),
    ("previous_line", "Up", "Previous line"),
    ("next_line", "N", "Next line"),
    ("previous_line", "Shift+N", "Previous line"),
    ("play_line", "Return", "Play the selected line in the video"),
    ("toggle_play", "Space", "Play / pause"),
    ("key_j", "J", "Back 2 s"),
    ("key_k", "K", "Pause"),
    ("key_l", "L", "Play; again: faster"),
    ("frame_back", "Left", "One frame back"),
    ("frame_forward", "Right", "One frame forward"),
    ("nudge_frame_earlier", "Alt+Left", "Move the selected line one frame earlier"),
    ("nudge_frame_later", "Alt+Right", "Move the selected line one frame later"),
    ("nudge_earlier", "Alt+Shift+Left", "Move the selected line 100 ms earlier"),
    ("nudge_later", "Alt+Shift+Right", "Move the selected line 100 ms later"),
    ("preview_line", "P", "Preview: render and play the selected line"),
    ("regenerate_line", "R", "Regenerate: a new take of the selected line"),
    ("accept_take", "A", "Use the take selected in the inspector"),
    ("split_line", "Ctrl+B", "Split the selected line (at the playhead, else in the middle)"),
    ("merge_with_next", "Ctrl+M", "Merge the selected line with the next one"),
    ("insert_line", "Insert", "Insert a line after the selected one and type its text"),
    ("insert_line", "Ctrl+I", "Insert a line after the selected one and type its text"),
    ("delete_key", "Delete", "Delete the selected lines"),
    ("find_speakers", "Ctrl+Shift+F", "Find speakers: who speaks each line (undoable)"),
    ("toggle_approved", "Shift+A", "Approve the selected lines (again: not approved)"),
    ("next_flagged", "F", "Next flagged or failed line"),
    ("next_unapproved", "U", "Next line not approved"),
    ("start_dub", "Ctrl+R", "Render all and write the output"),
    ("render_stale", "Ctrl+Shift+R", "Render the stale and unrendered lines"),
    ("export", "Ctrl+E", "Export…"),
    ("cancel_dub", "Escape", "Cancel the render"),
    ("undo", "Ctrl+Z", "Undo"),
    ("redo", "Ctrl+Shift+Z", "Redo"),
    ("choose_video", "Ctrl+O", "Open a video"),
    ("open_settings", "Ctrl+,", "Settings"),
    ("zoom_in", "Ctrl+=", "Zoom the timeline in"),
    ("zoom_out", "Ctrl+-", "Zoom the timeline out"),
    ("show_help", "F1", "This list"),
)

# Bound by their own widget (the inspector's A/B, app/gui/take_compare.py); listed by F1 only
# (bound here too, Qt would see one key twice and fire neither).
LISTED_ONLY: tuple[tuple[str, str], ...] = (
    ("B", "Compare takes A/B; again: switch at the same place in the line"),
    ("Shift+B", "Stop comparing takes"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(460, 560)
        rows = [(keys, what) for _, keys, what in SHORTCUTS] + list(LISTED_ONLY)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        for row, (keys, what) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(self.table)
        box.addWidget(buttons)
