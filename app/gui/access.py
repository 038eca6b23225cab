"""Accessible names for the desk's controls, so a screen reader says what each one is (the
lines table, the emotion sliders and several line edits had none). A control named by its
form row's label, its placeholder, its tooltip or its text keeps that; the rest get one
from the caller's table."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QWidget,
)

CONTROLS = (QAbstractButton, QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QComboBox,
            QLineEdit)  # fmt: skip


def _form_labels(root: QWidget) -> dict[int, str]:
    """id(control) -> the text of its QFormLayout row's label (also for a row's layout)."""
    labels: dict[int, str] = {}
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is None or field is None or not isinstance(label.widget(), QLabel):
                continue
            text = label.widget().text().replace("&", "")
            for w in _widgets_of(field.widget() or field.layout()):
                labels.setdefault(id(w), text)
    return labels


def _widgets_of(item) -> list[QWidget]:
    if isinstance(item, QWidget):
        return [item, *item.findChildren(QWidget)]
    if isinstance(item, QLayout):
        found = []
        for i in range(item.count()):
            sub = item.itemAt(i)
            found += _widgets_of(sub.widget() or sub.layout())
        return found
    return []


def name_controls(root: QWidget, names: dict[QWidget, str] | None = None) -> list[QWidget]:
    """Give every control under `root` an accessible name; returns those still without one."""
    for widget, name in (names or {}).items():
        widget.setAccessibleName(name)
    labels = _form_labels(root)
    unnamed = []
    for w in [root, *root.findChildren(QWidget)]:
        if not isinstance(w, CONTROLS) or w.accessibleName():
            continue
        text = labels.get(id(w))
        if not text and isinstance(w, QLineEdit):
            text = w.placeholderText()
        if not text and isinstance(w, QAbstractButton):
            text = w.text().replace("&", "")
        text = text or w.toolTip().split("(")[0].strip()
        if text:
            w.setAccessibleName(text)
        else:
            unnamed.append(w)
    return unnamed
