"""The timeline: waveforms of the original and of the dub, one block per line in its
speaker's colour, the playhead; drag a block's edge to change the line's span (the window
keeps it off the neighbours), click to seek, Ctrl+wheel to zoom, wheel or bar to scroll.

The waveforms are drawn once per view into a backing pixmap at the screen's device pixel
ratio (one column per device pixel: crisp on a High-DPI screen), not on every repaint: the
playhead moves many times a second while the video plays."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QScrollBar, QVBoxLayout, QWidget

from core.desk.opening import PEAKS_PER_S

__all__ = ["PEAKS_PER_S", "Block", "Timeline"]

EDGE_PX = 5  # how near an edge the pointer must be to grab it
LANE_H = 34
RULER_H = 14
MIN_PX_PER_S, MAX_PX_PER_S = 4.0, 800.0


@dataclass
class Block:
    row: int
    start_ms: int
    end_ms: int
    colour: QColor
    label: str


class TimelineCanvas(QWidget):
    span_dragged = Signal(int, int, int)  # row, start ms, end ms (as dropped)
    seek_requested = Signal(int)  # ms
    block_clicked = Signal(int)  # row
    view_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(RULER_H + 3 * LANE_H + 6)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.duration_ms = 0
        self.blocks: list[Block] = []
        self.original: np.ndarray = np.zeros(0, np.float32)
        self.dub: dict[int, tuple[int, np.ndarray]] = {}  # row -> (start ms, peaks)
        self.playhead_ms = 0
        self.selected: set[int] = set()
        self.playing: int | None = None  # the row under the playhead
        self.px_per_s = 40.0
        self.offset_ms = 0
        # (row, start, end) -> the span allowed (the window's rule: never into a neighbour)
        self.clamp: Callable[[int, int, int], tuple[int, int]] = lambda r, s, e: (s, e)
        self._drag: tuple[int, str] | None = None  # (block position, "start" | "end")
        self._drag_span: tuple[int, int] | None = None
        self._waves: QPixmap | None = None  # the waveform lanes, as last drawn
        self._waves_key: tuple | None = None  # what they were drawn for
        self._waves_version = 0  # bumped when a waveform changes

    def waveforms_changed(self) -> None:
        self._waves_version += 1
        self.update()

    # --- coordinates --------------------------------------------------------------------

    def x_of(self, ms: float) -> float:
        return (ms - self.offset_ms) / 1000 * self.px_per_s

    def ms_of(self, x: float) -> int:
        return round(self.offset_ms + x / self.px_per_s * 1000)

    def visible_ms(self) -> int:
        return round(self.width() / self.px_per_s * 1000)

    def zoom(self, factor: float, at_x: float | None = None) -> None:
        at_x = self.width() / 2 if at_x is None else at_x
        anchor = self.ms_of(at_x)
        self.px_per_s = min(MAX_PX_PER_S, max(MIN_PX_PER_S, self.px_per_s * factor))
        self.offset_ms = max(0, round(anchor - at_x / self.px_per_s * 1000))
        self.view_changed.emit()
        self.update()

    def scroll_to(self, offset_ms: int) -> None:
        self.offset_ms = max(0, min(offset_ms, max(0, self.duration_ms - self.visible_ms())))
        self.view_changed.emit()
        self.update()

    def follow(self, ms: int) -> None:
        """Keep the playhead in view while playing."""
        self.playhead_ms = ms
        if not self.offset_ms <= ms <= self.offset_ms + self.visible_ms():
            self.scroll_to(ms - self.visible_ms() // 5)
        self.update()

    # --- painting -----------------------------------------------------------------------

    def _lane(self, n: int) -> QRectF:
        return QRectF(0, RULER_H + n * LANE_H, self.width(), LANE_H - 2)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.drawPixmap(QPointF(0, 0), self.waves_pixmap())
        text_colour = pal.text().color()
        # ruler: a tick a second (every 10 when zoomed out)
        step = 1000 if self.px_per_s >= 20 else 10_000
        p.setPen(QPen(text_colour, 1))
        first = (self.offset_ms // step) * step
        for ms in range(first, self.offset_ms + self.visible_ms() + step, step):
            x = self.x_of(ms)
            p.drawLine(QPointF(x, RULER_H - 4), QPointF(x, RULER_H))
            if (ms // step) % (5 if step == 1000 else 1) == 0:
                p.drawText(QPointF(x + 2, RULER_H - 4), f"{ms // 60000}:{ms // 1000 % 60:02d}")
        lane = self._lane(2)
        for pos, b in enumerate(self.blocks):
            start, end = (b.start_ms, b.end_ms)
            if self._drag and self._drag[0] == pos and self._drag_span:
                start, end = self._drag_span
            x0, x1 = self.x_of(start), self.x_of(end)
            if x1 < 0 or x0 > self.width():
                continue
            rect = QRectF(x0, lane.top(), max(2.0, x1 - x0), lane.height())
            fill = QColor(b.colour)
            fill.setAlpha(210 if b.row in self.selected else 120)
            p.fillRect(rect, fill)
            if b.row == self.playing:
                p.setPen(QPen(QColor("#e74c3c"), 2))
            else:
                p.setPen(QPen(text_colour if b.row in self.selected else b.colour, 1))
            p.drawRect(rect)
            p.drawText(rect.adjusted(3, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter, b.label)
        x = self.x_of(self.playhead_ms)
        p.setPen(QPen(QColor("#e74c3c"), 2))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()

    def waves_pixmap(self) -> QPixmap:
        """The background and both waveform lanes at this view, drawn again only when the
        view, the size, the screen's pixel ratio, the palette or a waveform changed."""
        dpr = self.devicePixelRatioF()
        key = (
            self.width(),
            self.height(),
            dpr,
            self.px_per_s,
            self.offset_ms,
            self._waves_version,
            id(self.original),
            self.palette().cacheKey(),
        )
        if self._waves is None or key != self._waves_key:
            self._waves, self._waves_key = self._draw_waves(dpr), key
        return self._waves

    def _draw_waves(self, dpr: float) -> QPixmap:
        # Device pixels, rounded up (a fractional ratio must not leave a blank edge).
        pixmap = QPixmap(
            max(1, math.ceil(self.width() * dpr)), max(1, math.ceil(self.height() * dpr))
        )
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(self.palette().base().color())
        p = QPainter(pixmap)
        self._wave(p, dpr, self._lane(0), [(0, self.original)], QColor("#7f8c8d"), "original")
        self._wave(p, dpr, self._lane(1), list(self.dub.values()), QColor("#2f6fb0"), "dub")
        p.end()
        return pixmap

    def _wave(
        self, p: QPainter, dpr: float, lane: QRectF, parts, colour: QColor, name: str
    ) -> None:
        pen = QPen(colour)
        pen.setCosmetic(True)  # one device pixel wide at any ratio
        pen.setWidth(1)
        p.setPen(pen)
        mid, half = lane.center().y(), lane.height() / 2
        device_w = math.ceil(self.width() * dpr)
        for start_ms, peaks in parts:
            if len(peaks) == 0:
                continue
            # One vertical line per device pixel: the loudest peak under it.
            end_ms = start_ms + len(peaks) * 1000 / PEAKS_PER_S
            c0 = max(0, math.floor(self.x_of(start_ms) * dpr))
            c1 = min(device_w, math.ceil(self.x_of(end_ms) * dpr))
            if c1 <= c0:
                continue
            cols = np.arange(c0, c1 + 1)
            ms = self.offset_ms + cols / dpr / self.px_per_s * 1000  # each column's left edge
            first = np.floor((ms - start_ms) * PEAKS_PER_S / 1000).astype(np.int64)
            first = np.maximum.accumulate(np.clip(first, 0, len(peaks)))
            lo, hi = first[:-1], np.maximum(first[1:], first[:-1] + 1)
            inside = lo < len(peaks)
            cols, lo, hi = cols[:-1][inside], lo[inside], np.minimum(hi[inside], len(peaks))
            if len(cols) == 0:
                continue
            # The max over [lo, hi) of each column: reduceat runs to the next column's
            # start, or takes the one peak where columns share it; the last column ends at hi.
            values = np.asarray(peaks, np.float32)
            loud = np.maximum.reduceat(values, lo)
            loud[-1] = values[lo[-1] : hi[-1]].max()
            heights = np.clip(loud, 0.0, 1.0) * half
            xs = (cols + 0.5) / dpr  # the device pixel's centre, in logical units
            p.drawLines(
                [
                    QLineF(x, mid - h, x, mid + h)
                    for x, h in zip(xs.tolist(), heights.tolist(), strict=True)
                ]
            )
        p.setPen(QPen(self.palette().text().color(), 1))
        p.drawText(lane.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignTop, name)

    # --- editing ------------------------------------------------------------------------

    def _edge_at(self, x: float, y: float) -> tuple[int, str] | None:
        lane = self._lane(2)
        if not lane.top() <= y <= lane.bottom():
            return None
        for pos, b in enumerate(self.blocks):
            if abs(self.x_of(b.start_ms) - x) <= EDGE_PX:
                return pos, "start"
            if abs(self.x_of(b.end_ms) - x) <= EDGE_PX:
                return pos, "end"
        return None

    def _block_at(self, x: float, y: float) -> Block | None:
        lane = self._lane(2)
        if not lane.top() <= y <= lane.bottom():
            return None
        ms = self.ms_of(x)
        return next((b for b in self.blocks if b.start_ms <= ms <= b.end_ms), None)

    def mousePressEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        edge = self._edge_at(x, y)
        if edge is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag = edge
            b = self.blocks[edge[0]]
            self._drag_span = (b.start_ms, b.end_ms)
            return
        block = self._block_at(x, y)
        if block is not None:
            self.block_clicked.emit(block.row)
        self.seek_requested.emit(max(0, min(self.ms_of(x), self.duration_ms)))

    def mouseMoveEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        if self._drag is None:
            near = self._edge_at(x, y) is not None
            self.setCursor(Qt.CursorShape.SizeHorCursor if near else Qt.CursorShape.ArrowCursor)
            return
        pos, which = self._drag
        b = self.blocks[pos]
        ms = self.ms_of(x)
        start, end = (ms, b.end_ms) if which == "start" else (b.start_ms, ms)
        self._drag_span = self.clamp(b.row, start, end)
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is None:
            return
        pos, _ = self._drag
        span = self._drag_span
        self._drag, self._drag_span = None, None
        b = self.blocks[pos]
        if span is not None and span != (b.start_ms, b.end_ms):
            self.span_dragged.emit(b.row, span[0], span[1])
        self.update()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if delta > 0 else 0.8, event.position().x())
        else:
            self.scroll_to(self.offset_ms - round(delta / 120 * self.visible_ms() / 8))


class Timeline(QWidget):
    """The canvas and its scroll bar."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.canvas = TimelineCanvas()
        self.bar = QScrollBar(Qt.Orientation.Horizontal)
        self.bar.valueChanged.connect(self.canvas.scroll_to)
        self.canvas.view_changed.connect(self._sync_bar)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.canvas, 1)
        box.addWidget(self.bar)

    def _sync_bar(self) -> None:
        c = self.canvas
        self.bar.blockSignals(True)
        self.bar.setRange(0, max(0, c.duration_ms - c.visible_ms()))
        self.bar.setPageStep(max(1, c.visible_ms()))
        self.bar.setValue(c.offset_ms)
        self.bar.blockSignals(False)

    def set_content(self, duration_ms: int, blocks: list[Block], original: np.ndarray) -> None:
        c = self.canvas
        c.duration_ms, c.blocks, c.original, c.dub = duration_ms, blocks, original, {}
        c.offset_ms = 0
        c.waveforms_changed()
        if duration_ms > 0:  # the whole video in view to start with
            fit = max(c.width(), 600) / (duration_ms / 1000)
            c.px_per_s = min(MAX_PX_PER_S, max(MIN_PX_PER_S, fit))
        self._sync_bar()
        c.update()

    def set_dub(self, row: int, start_ms: int, peaks: np.ndarray) -> None:
        self.canvas.dub[row] = (start_ms, peaks)
        self.canvas.waveforms_changed()

    def show_line(self, start_ms: int, end_ms: int) -> None:
        """Scroll so that a line is in view (selecting it in the table)."""
        c = self.canvas
        if not (c.offset_ms <= start_ms and end_ms <= c.offset_ms + c.visible_ms()):
            c.scroll_to(start_ms - c.visible_ms() // 4)
