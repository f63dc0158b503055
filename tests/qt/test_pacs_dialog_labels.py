"""Issue #22, problem 9: no label of the PACS dialog shows a literal "&". A QLabel draws "&" as an
underlined mnemonic only when it has a buddy to jump to; without one the "&" is printed as it is."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from viewer.qt.pacs_dialog import Tab


def test_every_label_with_a_mnemonic_has_a_buddy(window) -> None:
    window.show_pacs(Tab.NODES)
    labels = window.pacs.findChildren(QLabel)
    assert labels
    literal = [
        label.text() for label in labels if "&" in label.text().replace("&&", "") and not label.buddy()
    ]
    assert literal == []


def test_the_study_dates_label_jumps_to_the_first_date(window) -> None:
    window.show_pacs(Tab.QUERY)
    query = window.pacs.query_tab
    buddies = {label.buddy() for label in query.findChildren(QLabel) if "&d" in label.text()}
    assert buddies == {query.date_from}
