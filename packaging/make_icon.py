"""Draw packaging/cxr-triage.png, the 256×256 launcher icon the .deb installs (run once, commit the PNG):
two lungs on a dark tile with an amber triage dot.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icon.py
"""

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen

SIZE = 256


def lung(side: int) -> QPainterPath:
    """One lung, mirrored by ``side`` (-1 left, +1 right) about the vertical middle."""
    x = lambda v: SIZE / 2 + side * v  # noqa: E731
    path = QPainterPath(QPointF(x(14), 58))
    path.cubicTo(QPointF(x(40), 40), QPointF(x(92), 70), QPointF(x(96), 150))
    path.cubicTo(QPointF(x(98), 196), QPointF(x(70), 206), QPointF(x(40), 196))
    path.cubicTo(QPointF(x(18), 188), QPointF(x(14), 150), QPointF(x(14), 58))
    return path


def main() -> None:
    app = QGuiApplication(sys.argv)  # noqa: F841 (fonts and painting need it)
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#1d2733"))
    p.drawRoundedRect(QRectF(8, 8, SIZE - 16, SIZE - 16), 40, 40)
    p.setBrush(QColor("#d9e2ec"))
    for side in (-1, 1):
        p.drawPath(lung(side))
    p.setPen(QPen(QColor("#d9e2ec"), 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(SIZE / 2, 30), QPointF(SIZE / 2, 120))  # trachea
    p.setPen(QPen(QColor("#1d2733"), 6))
    p.setBrush(QBrush(QColor("#f5a623")))
    p.drawEllipse(QPointF(196, 196), 34, 34)
    p.end()
    out = Path(__file__).with_name("cxr-triage.png")
    if not image.save(str(out)):
        raise SystemExit(f"could not write {out}")
    print(out)


if __name__ == "__main__":
    main()
