"""Where the window's widgets sit: the video and the inspector tabs above the lines table
and the timeline, the output fields and the render buttons below."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)


def build_layout(win) -> None:
    filters = QHBoxLayout()
    filters.addWidget(QLabel("Show"))
    filters.addWidget(win.speaker_filter)
    filters.addWidget(win.status_filter)
    filters.addStretch(1)
    table_box = QWidget()
    tlay = QVBoxLayout(table_box)
    tlay.setContentsMargins(0, 0, 0, 0)
    tlay.addLayout(filters)
    tlay.addWidget(win.table, 1)

    # The inspector scrolls: the video and the table keep their room on a laptop screen.
    inspector_scroll = QScrollArea()
    inspector_scroll.setWidget(win.inspector)
    inspector_scroll.setWidgetResizable(True)
    inspector_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    win.tabs = QTabWidget()
    win.tabs.addTab(inspector_scroll, "Line")
    win.tabs.addTab(win.speakers, "Speakers")
    win.tabs.addTab(win.queue_panel, "Queue")
    top = QSplitter(Qt.Orientation.Horizontal)
    top.addWidget(win.video)
    top.addWidget(win.tabs)
    top.setStretchFactor(0, 3)
    top.setStretchFactor(1, 2)
    top.setSizes([700, 420])
    middle = QSplitter(Qt.Orientation.Vertical)
    middle.addWidget(top)
    middle.addWidget(table_box)
    middle.addWidget(win.timeline)
    middle.setSizes([330, 320, 140])
    # A smaller window than the default takes from the picture too, not from the lines
    # alone (at 1024x720 the table was left one row high).
    middle.setStretchFactor(0, 1)
    middle.setStretchFactor(1, 2)

    form = QHBoxLayout()
    form.addWidget(QLabel("Output"))
    form.addWidget(win.output_edit, 3)
    form.addWidget(win.out_btn)
    form.addWidget(QLabel("Models"))
    form.addWidget(win.model_edit, 2)
    form.addWidget(win.model_btn)
    form.addWidget(win.models_label)
    form.addWidget(QLabel("Background"))
    form.addWidget(win.background)
    form.addWidget(QLabel("Emotion"))
    form.addWidget(win.emotion)
    run = QHBoxLayout()
    for w in (win.dub_btn, win.stale_btn, win.export_btn, win.cancel_btn):
        run.addWidget(w)
    run.addWidget(win.progress, 1)
    run.addWidget(win.step_label)

    box = QVBoxLayout()
    box.addWidget(win.source_label)
    box.addWidget(middle, 1)
    box.addWidget(win.warnings_label)
    box.addLayout(form)
    box.addLayout(run)
    central = QWidget()
    central.setLayout(box)
    win.setCentralWidget(central)
