"""The desk's Settings > Render on: this computer or a Ray cluster (address, workers), kept in
QSettings; the desk's dubs then render on the cluster's pool. Without Ray, or with an
address that is none or where nothing answers, the dialog says why and nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

import core.job.cluster
from app.gui.main_window import MainWindow
from app.gui.settings_dialog import SettingsDialog
from core.job.cluster import ClusterFactory, RenderOn
from core.settings import DubSettings
from models.pool import connect
from models.pool.connect import disconnect
from tests import desk_fixtures, mediagen
from tests.test_gui_desk import dub_now, open_now, window
from tests.tone_engine import ToneEngine

# The desk's own QSettings and empty model folder (autouse here), bound by name rather than
# imported: ruff reads a test's parameter of an imported fixture as a redefinition.
own_settings = desk_fixtures.own_settings


@pytest.fixture(autouse=True)
def own_jobs(tmp_path, monkeypatch):
    """This test's own take cache and queue file; an incomplete model folder is kept."""
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DUBSMITH_QUEUE_FILE", str(tmp_path / "queue.json"))
    # An incomplete model folder is kept when asked (the dialog asks before OK goes through).
    monkeypatch.setattr(
        "app.gui.settings_dialog.QMessageBox.question", lambda *a: QMessageBox.StandardButton.Yes
    )


def settings_dialog(win: MainWindow) -> SettingsDialog:
    project = win.project
    return SettingsDialog(
        win,
        win.model_edit.text(),
        "auto",
        "auto",
        project.settings if project else DubSettings(),
    )


def choose_cluster(qtbot, dialog: SettingsDialog, address: str, workers: int) -> None:
    """Render on: Ray cluster, with this address and this many workers, typed."""
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.render_on.setFocus()
    qtbot.keyClick(dialog.render_on, Qt.Key.Key_Down)  # this computer -> Ray cluster
    assert dialog.render_on.currentText() == "Ray cluster"
    assert dialog.cluster_address.isEnabled() and dialog.cluster_workers.isEnabled()
    dialog.cluster_address.setFocus()
    qtbot.keyClick(dialog.cluster_address, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.cluster_address, address)
    dialog.cluster_workers.setFocus()
    qtbot.keyClick(dialog.cluster_workers, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.cluster_workers, str(workers))


def press_ok(qtbot, dialog: SettingsDialog) -> None:
    buttons = dialog.findChild(QDialogButtonBox)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_render_on_a_cluster_is_kept_and_used_by_the_queue(qtbot):
    tone = ToneEngine()
    win = window(qtbot, tone)
    here = win.queue_worker.engines
    dialog = settings_dialog(win)
    assert dialog.render_on.currentText() == "this computer"
    assert not dialog.cluster_address.isEnabled()  # only for a cluster
    choose_cluster(qtbot, dialog, "local", 3)
    press_ok(qtbot, dialog)
    assert dialog.result() == SettingsDialog.DialogCode.Accepted, dialog.error.text()
    win.apply_settings(dialog)

    factory = win.queue_worker.engines.factory
    assert isinstance(factory, ClusterFactory)
    assert (factory.settings.address, factory.settings.workers) == ("local", 3)
    assert factory.joined is None and not factory.pools  # joined at the first dub, not now
    kept = QSettings("Dubsmith", "Dubsmith")
    assert kept.value("render_on") == "cluster" and kept.value("cluster_address") == "local"
    assert int(kept.value("cluster_workers")) == 3

    # The next desk starts with it; its Settings show it.
    again = window(qtbot, ToneEngine())
    assert again.queue_worker.engines.factory.render_on == RenderOn(True, "local", 3)
    shown = settings_dialog(again)
    assert shown.render_on.currentText() == "Ray cluster"
    assert (shown.cluster_address.text(), shown.cluster_workers.value()) == ("local", 3)

    # Back to this computer: the window's own engine renders again.
    back = settings_dialog(win)
    back.show()
    back.render_on.setFocus()
    qtbot.keyClick(back.render_on, Qt.Key.Key_Up)
    press_ok(qtbot, back)
    win.apply_settings(back)
    assert win.queue_worker.engines is not here
    assert win.queue_worker.engines(None, "cpu") is tone
    assert QSettings("Dubsmith", "Dubsmith").value("render_on") == "local"


@pytest.mark.parametrize(
    ("address", "without_ray", "said"),
    [
        ("local", True, 'pip install "dubsmith[cluster]"'),
        ("no address", False, "is not a cluster address"),
        ("127.0.0.1:1", False, "nothing answers there"),
    ],
)
def test_a_cluster_that_cannot_be_used_is_said_and_nothing_starts(
    qtbot, monkeypatch, address, without_ray, said
):
    if without_ray:
        monkeypatch.setattr(core.job.cluster, "ray_available", lambda: False)
    started = []
    monkeypatch.setattr(core.job.cluster, "connect", lambda *a, **k: started.append(a))
    win = window(qtbot, ToneEngine())
    here = win.queue_worker.engines
    dialog = settings_dialog(win)
    choose_cluster(qtbot, dialog, address, 2)
    press_ok(qtbot, dialog)
    assert dialog.result() != SettingsDialog.DialogCode.Accepted  # the dialog stays open
    assert said in dialog.error.text() and "Ray cluster" in dialog.error.text()
    assert win.queue_worker.engines is here and not started
    assert QSettings("Dubsmith", "Dubsmith").value("render_on") is None  # nothing kept


@pytest.fixture
def ray_local():
    """A local Ray runtime of 2 CPUs (the desk's pool joins it), shut down after."""
    connect("local", num_cpus=2)
    yield
    disconnect()


def test_the_desk_dubs_on_the_cluster_pool(qtbot, tmp_path, monkeypatch, tiny_model_dir, ray_local):
    monkeypatch.setenv("DUBSMITH_MODEL_DIR", str(tiny_model_dir))
    lines = ((0.4, "Where have you been?", "en-us"), (2.6, "Waiting for the train.", "en-gb+f3"))
    video = mediagen.make_test_video(
        tmp_path / "clip.mp4", duration_s=5, lines=lines, srt_path=tmp_path / "clip.srt"
    )
    win = window(qtbot)  # the product's own engines, no test double
    win.model_edit.setText(str(tiny_model_dir))
    dialog = settings_dialog(win)
    choose_cluster(qtbot, dialog, "local", 2)
    press_ok(qtbot, dialog)
    assert dialog.result() == SettingsDialog.DialogCode.Accepted, dialog.error.text()
    win.apply_settings(dialog)
    assert open_now(qtbot, win, video)
    out = tmp_path / "dubbed.mp4"
    dub_now(qtbot, win, out)
    assert out.is_file()
    factory = win.queue_worker.engines.factory
    assert isinstance(factory, ClusterFactory) and len(factory.pools) == 1
    (pool,) = factory.pools.values()
    rendered = [n for _, n in pool.lines_per_worker()]
    assert len(rendered) == 2 and sum(rendered) == len(lines)
    factory.close()
    assert Path(out).stat().st_size > 0


def test_closing_the_desk_lets_the_clusters_workers_go(qtbot, monkeypatch):
    closed: list[ClusterFactory] = []
    monkeypatch.setattr(ClusterFactory, "close", lambda self: closed.append(self))
    win = window(qtbot, ToneEngine())
    dialog = settings_dialog(win)
    choose_cluster(qtbot, dialog, "local", 2)
    press_ok(qtbot, dialog)
    win.apply_settings(dialog)
    factory = win.queue_worker.engines.factory
    assert isinstance(factory, ClusterFactory) and closed == []
    win.close()
    assert closed == [factory]
