"""Issue 23 at the desk: the Export dialog offers the loudness preset and a deliverables
folder with each part to tick (OTIO, FCP XML, AAF, stems, QC report), the dub writes
exactly the parts ticked, and the next Export (in this session or the next) offers the
same choices again. Driven with real key events on the real window, the tone test double
as the engine."""

from __future__ import annotations

import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtTest import QTest

from app.gui.export_dialog import ExportDialog
from core.deliver.parts import DeliverPart
from core.settings import DubSettings
from tests import desk_fixtures
from tests.test_gui_defects import keys, shown
from tests.test_gui_desk import open_now, shot, window
from tests.tone_engine import ToneEngine

# The desk's fixtures, this module's own (own_settings autouse here), bound by name rather than
# imported by name: ruff reads each test's parameter of an imported fixture as a redefinition.
own_settings, source = desk_fixtures.own_settings, desk_fixtures.source
clip, no_dialogs = desk_fixtures.clip, desk_fixtures.no_dialogs


def toggle(box) -> None:
    """Space on a focused check box, as an editor ticks it from the keyboard."""
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_Space)


def test_export_delivers_only_the_parts_ticked_at_the_loudness_chosen_and_remembers_them(
    qtbot, clip, tmp_path, no_dialogs
):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    out, folder = tmp_path / "film.mp4", tmp_path / "delivery"
    seen: dict[str, object] = {}

    def fill() -> None:
        dialog = win.export_dialog
        dialog.output.setText(str(out))
        assert not dialog.parts[DeliverPart.OTIO].isEnabled()  # no folder: nothing to tick
        dialog.deliver_folder.setFocus()
        QTest.keyClicks(dialog.deliver_folder, str(folder))
        dialog.loudness.setFocus()
        QTest.keyClick(dialog.loudness, Qt.Key.Key_Down)  # streaming -> ebu-r128
        for part in (DeliverPart.FCP_XML, DeliverPart.AAF, DeliverPart.QC_REPORT):
            toggle(dialog.parts[part])  # every part starts ticked: untick all but two
        seen["shot"] = shot(dialog, "export_dialog")
        seen["fits"] = all(
            w.width() >= w.sizeHint().width()
            for w in (*dialog.parts.values(), dialog.loudness, dialog.deliver_folder)
        )
        QTest.keyClick(dialog, Qt.Key.Key_Return)  # Export is the default button

    QTimer.singleShot(300, fill)
    keys(qtbot, win, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.running_job is None and win.result_box is not None, timeout=90_000)
    assert out.exists(), no_dialogs
    assert seen["fits"], "a control of the deliverables is squeezed below its size hint"

    # Exactly OTIO and the stems (with the take files the timeline cuts): no FCP XML, AAF
    # or QC report.
    speakers = sorted({ln.speaker for ln in win.last_report.lines})
    stems = ["mix", "dialogue", "music-effects", *(f"dialogue.{s}" for s in speakers)]
    expected = sorted(["film.otio", "film.takes", *(f"film.{s}.wav" for s in stems)])
    assert sorted(p.name for p in folder.iterdir()) == expected
    assert len(list((folder / "film.takes").iterdir())) == len(win.last_report.lines)
    delivery = win.last_report.delivery
    assert delivery["loudness"]["preset"] == "ebu-r128"
    assert delivery["loudness"]["target_lufs"] == -23.0
    assert f"Delivered to {folder}: OTIO, {len(stems)} stems" in win.result_box.text()

    # The next Export offers the same choices.
    def look() -> None:
        dialog = win.export_dialog
        seen["loudness"] = dialog.loudness.currentText().split(":")[0]
        seen["folder"] = dialog.deliver_folder.text()
        seen["ticked"] = [p.value for p, box in dialog.parts.items() if box.isChecked()]
        QTest.keyClick(dialog, Qt.Key.Key_Escape)

    win.result_box.close()
    QTimer.singleShot(300, look)
    keys(qtbot, win, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert seen["loudness"] == "ebu-r128"
    assert seen["folder"] == str(folder)
    assert seen["ticked"] == ["otio", "stems"]


def test_a_single_part_is_remembered_into_the_next_session(qtbot, tmp_path):
    """QSettings reads a one-item list back as a plain string: one ticked part must still
    come back as that part (not as its letters, not as every part)."""
    folder = tmp_path / "delivery"
    folder.mkdir()
    parent = window(qtbot)
    dialog = ExportDialog(
        parent,
        str(tmp_path / "film.mp4"),
        DubSettings(),
        True,
        delivery_memory=QSettings("Dubsmith", "Dubsmith"),
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.deliver_folder.setFocus()
    QTest.keyClicks(dialog.deliver_folder, str(folder))
    for part in (DeliverPart.OTIO, DeliverPart.FCP_XML, DeliverPart.STEMS, DeliverPart.QC_REPORT):
        toggle(dialog.parts[part])  # only AAF stays ticked
    for _ in range(3):
        QTest.keyClick(dialog.loudness, Qt.Key.Key_Down)  # -> netflix
    QTest.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.result() == ExportDialog.DialogCode.Accepted, dialog.error.text()

    # No part ticked is refused with the reason, not accepted as "every part".
    again = ExportDialog(parent, str(tmp_path / "film.mp4"), DubSettings(), True,
                         delivery_memory=QSettings("Dubsmith", "Dubsmith"))  # fmt: skip
    qtbot.addWidget(again)
    assert [p for p, box in again.parts.items() if box.isChecked()] == [DeliverPart.AAF]
    assert again.loudness.currentText().startswith("netflix")
    assert again.deliver_folder.text() == str(folder)
    again.show()
    qtbot.waitExposed(again)
    toggle(again.parts[DeliverPart.AAF])
    QTest.keyClick(again, Qt.Key.Key_Return)
    assert again.isVisible() and "at least one" in again.error.text()

    # The queue's job settings (no memory given) offer no delivery.
    plain = ExportDialog(parent, str(tmp_path / "film.mp4"), DubSettings(), True)
    qtbot.addWidget(plain)
    assert not hasattr(plain, "parts") and plain.choice().delivery is None
