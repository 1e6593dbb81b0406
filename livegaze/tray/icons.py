"""Tray icons drawn in code: an eye whose iris colour says the state."""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

STATE_COLOURS = {
    "off": "#8a8f98",
    "starting": "#3b82f6",
    "correcting": "#22c55e",
    "paused": "#a3a3a3",
    "no_face": "#f59e0b",
    "preview_only": "#a855f7",  # running, but call apps see nothing: no virtual camera
    "error": "#ef4444",
}


def state_icon(state: str, size: int = 64) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    eye = QPainterPath()
    eye.moveTo(QPointF(0.06 * s, 0.5 * s))
    eye.quadTo(QPointF(0.5 * s, 0.05 * s), QPointF(0.94 * s, 0.5 * s))
    eye.quadTo(QPointF(0.5 * s, 0.95 * s), QPointF(0.06 * s, 0.5 * s))
    p.setPen(QPen(QColor("#1f2937"), s * 0.06))
    p.setBrush(QBrush(QColor("white")))
    p.drawPath(eye)
    colour = QColor(STATE_COLOURS.get(state, STATE_COLOURS["off"]))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawEllipse(QRectF(0.32 * s, 0.32 * s, 0.36 * s, 0.36 * s))
    p.setBrush(QColor("#111827"))
    p.drawEllipse(QRectF(0.43 * s, 0.43 * s, 0.14 * s, 0.14 * s))
    if state in ("off", "paused"):
        p.setPen(QPen(QColor("#1f2937"), s * 0.08))
        p.drawLine(QPointF(0.15 * s, 0.85 * s), QPointF(0.85 * s, 0.15 * s))
    p.end()
    return QIcon(pix)
