"""The video preview (QtMultimedia): play/pause, seek, J/K/L and frame steps; hear the
original, the dub, or both; play one take alone; compare two takes of a line A/B over its
picture (the take player switches takes at the same place in the line). Without an audio device (a server, an
offscreen test) it shows the picture and says so; it never takes the window down."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.desk import takes as desk_takes

LISTEN = ("Original", "Dub", "Both")
JUMP_MS = 2000  # J / L when paused: this far back / forward
DRIFT_MS = 120  # the dub is re-synced to the picture when it drifts further than this


NO_DEVICE = "No audio device: the preview shows the picture only."


def clock(ms: int) -> str:
    s = max(0, ms) // 1000
    return f"{s // 60}:{s % 60:02d}.{max(0, ms) % 1000 // 100}"


class VideoPreview(QWidget):
    position_changed = Signal(int)  # ms, while playing or after a seek
    compare_ended = Signal()  # the A/B compare stopped (another take or video, a seek away)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.frame_ms = 40.0  # 25 fps until a video says otherwise
        self.duration_ms = 0
        self.has_audio_device = bool(QMediaDevices.audioOutputs())
        self.video = QVideoWidget()
        self.video.setMinimumSize(240, 135)
        self.player = QMediaPlayer(self)
        self.original_out = QAudioOutput(self)
        self.player.setVideoOutput(self.video)
        self.dub_player = QMediaPlayer(self)
        self.dub_out = QAudioOutput(self)
        self.take_player = QMediaPlayer(self)
        self.take_out = QAudioOutput(self)
        # Outputs only where there is something to hear. An attached output starts the
        # multimedia backend's audio thread, which deletes its sink by itself (at a take's
        # end, a stop, a new source); that deletion calls back into the Python-made output
        # and needs the GIL, while stop() or setSource() on the GUI thread holds the GIL
        # and waits for that thread: a frozen window (seen under a headless session).
        if self.has_audio_device:
            self.player.setAudioOutput(self.original_out)
            self.dub_player.setAudioOutput(self.dub_out)
            self.take_player.setAudioOutput(self.take_out)
        for p in (self.player, self.dub_player, self.take_player):
            p.errorOccurred.connect(self._error)
        self.player.positionChanged.connect(self._moved)
        self.player.durationChanged.connect(self._duration)
        self.player.playbackStateChanged.connect(self._state)
        self.player.mediaStatusChanged.connect(self._status)
        self._pending_ms: int | None = None  # a seek asked for before the media loaded
        self.stop_at: int | None = None  # ms: "play the line" pauses at the line's end
        # A/B: (start, end) ms of the line whose takes are compared over its picture; the
        # take player then follows the picture and the original and the dub are muted.
        self.compare_span: tuple[int, int] | None = None
        self.take_offset_ms: int | None = None  # where the take player was sent, in the take
        self.take_player.mediaStatusChanged.connect(self._take_status)

        self.play_btn = QPushButton("Play")
        self.play_btn.setToolTip("Play / pause (Space, K)")
        self.play_btn.clicked.connect(self.toggle)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.sliderMoved.connect(self.seek)
        self.slider.setAccessibleName("Video position")
        self.time = QLabel("0:00.0")
        self.listen = QComboBox()
        self.listen.addItems(LISTEN)
        self.listen.setToolTip("Hear the original, the dub, or both")
        self.listen.currentIndexChanged.connect(self._route)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b35c00")
        if not self.has_audio_device:
            self.message.setText(NO_DEVICE)

        bar = QHBoxLayout()
        bar.addWidget(self.play_btn)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.time)
        bar.addWidget(self.listen)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.video, 1)
        box.addLayout(bar)
        box.addWidget(self.message)
        self._route()

    # --- sources ------------------------------------------------------------------------

    def load(self, video: Path, fps: float | None, dub_wav: Path | None) -> None:
        self.end_compare()
        self.player.stop()
        self.frame_ms = 1000.0 / fps if fps and fps > 0 else 40.0
        self.player.setSource(QUrl.fromLocalFile(str(video)))
        self.set_dub(dub_wav)

    def set_dub(self, dub_wav: Path | None) -> None:
        """The dub's mix to hear (None: none yet: "Dub" is silent until one is made)."""
        self.dub_player.stop()
        self.dub_player.setSource(QUrl.fromLocalFile(str(dub_wav)) if dub_wav else QUrl())
        self._route()

    def _route(self, *_) -> None:
        mode = LISTEN[self.listen.currentIndex()]
        # While comparing takes only the take is heard: the line's own voice or the dub's
        # mix under it would blur which take is which.
        comparing = self.compare_span is not None
        self.original_out.setVolume(1.0 if mode in ("Original", "Both") and not comparing else 0.0)
        self.dub_out.setVolume(1.0 if mode in ("Dub", "Both") and not comparing else 0.0)

    # --- transport ----------------------------------------------------------------------

    def playing(self) -> bool:
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def play(self) -> None:
        self.stop_at = None  # plain play runs on; play_span sets its end after this
        self.player.setPlaybackRate(1.0)
        self.player.play()
        if not self.dub_player.source().isEmpty():
            self.dub_player.setPosition(self.player.position())
            self.dub_player.play()
        if self.compare_span is not None:
            self._send_take(self._line_offset())
            self.take_player.play()

    def pause(self) -> None:
        self.player.pause()
        self.dub_player.pause()
        if self.compare_span is not None:
            self.take_player.pause()

    def toggle(self) -> None:
        self.pause() if self.playing() else self.play()

    def seek(self, ms: int) -> None:
        self.stop_at = None  # the editor moved elsewhere: no line's end applies
        ms = max(0, min(int(ms), self.duration_ms or int(ms)))
        if self.compare_span is not None:
            start, end = self.compare_span
            if start <= ms <= end:
                self.stop_at = end  # a step within the compared line: it still ends there
                self._send_take(ms - start)
            else:
                self.end_compare()  # moved off the line: the takes are no longer compared
        if self.player.mediaStatus() in (
            QMediaPlayer.MediaStatus.NoMedia,
            QMediaPlayer.MediaStatus.LoadingMedia,
        ):
            self._pending_ms = ms  # a position set now would be lost: set once loaded
        self.player.setPosition(ms)
        if not self.dub_player.source().isEmpty():
            self.dub_player.setPosition(ms)
        self.position_changed.emit(ms)

    def step_frames(self, n: int) -> None:
        self.pause()
        self.seek(self.player.position() + round(n * self.frame_ms))

    def key_j(self) -> None:
        self.seek(self.player.position() - JUMP_MS)

    def key_l(self) -> None:
        """Play; pressed again while playing: twice as fast (up to 4x)."""
        if self.playing():
            self.player.setPlaybackRate(min(4.0, self.player.playbackRate() * 2))
        else:
            self.play()

    def play_span(self, start_ms: int, end_ms: int | None = None) -> None:
        """Play from start_ms; with end_ms, pause there (the selected line, and no more)."""
        self.seek(start_ms)
        self.play()
        self.stop_at = end_ms

    def play_file(self, path: Path, start_ms: int | None = None) -> None:
        """One take, alone: the picture pauses, at its line's start when given (the
        playhead and the table then show which line is heard)."""
        self.end_compare()
        self.pause()
        if start_ms is not None:
            self.seek(start_ms)
        self.take_player.stop()
        self.take_player.setSource(QUrl.fromLocalFile(str(path)))
        self.take_player.play()
        if not self.has_audio_device:
            self.message.setText(f"No audio device: cannot play {Path(path).name} here.")

    # --- A/B ----------------------------------------------------------------------------

    def compare(self, take: Path, start_ms: int, end_ms: int, name: str = "") -> None:
        """A/B: the line's span over its picture with this take in place of its voice."""
        self.compare_span = (start_ms, max(start_ms, end_ms))
        self._route()
        self.take_player.setSource(QUrl.fromLocalFile(str(take)))
        self.play_span(start_ms, end_ms)  # plays the take too, from the line's start
        self._say_no_device(name or Path(take).name)

    def switch_take(self, take: Path, name: str = "") -> int:
        """The other take, at the same place in the line; the picture keeps its place
        (played through to the line's end: both from the line's start). Returns where in
        the take it starts, in ms."""
        if self.compare_span is None:
            return 0
        start, end = self.compare_span
        offset = desk_takes.switch_offset(self._picture_ms(), start, end)
        self.take_player.setSource(QUrl.fromLocalFile(str(take)))
        if offset == 0 and self._picture_ms() > start:
            self.play_span(start, end)  # replays the line with the other take
        else:
            self._send_take(offset)
            if self.playing():
                self.take_player.play()
        self._say_no_device(name or Path(take).name)
        return offset

    def end_compare(self) -> None:
        if self.compare_span is None:
            return
        self.compare_span = None
        self.take_offset_ms = None
        self.take_player.pause()
        self._route()
        if not self.has_audio_device:  # the compare's own words go with it
            self.message.setText(NO_DEVICE)
        self.compare_ended.emit()

    def _picture_ms(self) -> int:
        """The picture's place, also when a seek waits for the media to load."""
        return self._pending_ms if self._pending_ms is not None else self.player.position()

    def _line_offset(self) -> int:
        start, end = self.compare_span or (0, 0)
        return desk_takes.offset_in_line(self._picture_ms(), start, end)

    def _send_take(self, offset_ms: int) -> None:
        """Set now, and again once the take has loaded (a position set before is lost)."""
        self.take_offset_ms = offset_ms
        self.take_player.setPosition(offset_ms)

    def _take_status(self, status) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia and self.compare_span is not None:
            if self.take_offset_ms is not None:
                self.take_player.setPosition(self.take_offset_ms)

    def _say_no_device(self, name: str) -> None:
        if not self.has_audio_device:
            self.message.setText(f"No audio device: {name} is not heard here (A/B state shown).")

    # --- events -------------------------------------------------------------------------

    def _moved(self, ms: int) -> None:
        if self.stop_at is not None and ms >= self.stop_at:
            self.stop_at = None
            self.pause()
        if not self.slider.isSliderDown():
            self.slider.setValue(ms)
        self.time.setText(f"{clock(ms)} / {clock(self.duration_ms)}")
        if self.playing() and not self.dub_player.source().isEmpty():
            if abs(self.dub_player.position() - ms) > DRIFT_MS:
                self.dub_player.setPosition(ms)
        if self.playing() and self.compare_span is not None:
            offset = ms - self.compare_span[0]
            if 0 <= offset < self.take_player.duration() and (
                abs(self.take_player.position() - offset) > DRIFT_MS
            ):
                self._send_take(offset)
        self.position_changed.emit(ms)

    def _duration(self, ms: int) -> None:
        self.duration_ms = ms
        self.slider.setRange(0, ms)

    def _state(self, state) -> None:
        self.play_btn.setText(
            "Pause" if state == QMediaPlayer.PlaybackState.PlayingState else "Play"
        )

    def _status(self, status) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia and self._pending_ms is not None:
            self.player.setPosition(self._pending_ms)
            self._pending_ms = None

    def _error(self, error, text: str) -> None:
        if error != QMediaPlayer.Error.NoError:
            self.message.setText(f"Preview: {text or error.name}")

    def stop_all(self) -> None:
        self.end_compare()
        for p in (self.player, self.dub_player, self.take_player):
            p.stop()
