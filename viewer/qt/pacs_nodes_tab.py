"""The PACS dialog's Nodes tab: the configured PACS nodes, kept in the settings as soon as one is added,
updated or removed; the Test button (C-ECHO, or a QIDO-RS query for DICOMweb), which tests what the
form holds (address, TLS files, the credentials typed), saved or not; and this workstation's own
(calling) AE title, kept in the settings.

A DICOMweb node's user name and password, or token, go to the OS credential store under the node's name
(:mod:`inference.pacs.credential_store`), never to the settings; a password typed in the address is
moved there too. Where there is no credential store they are refused, and the tab says why.

A node's TLS files (a CA, a client certificate and its key; PEM paths, kept in the settings) are chosen
with Browse…; a file that cannot be read is refused on Save. A ``dicom://`` node with any of them is
tested and sent to over DICOM TLS; a DICOMweb node verifies its server with the CA and presents the
client certificate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from inference.pacs.access import Credentials
from inference.pacs.saved_nodes import without_credentials
from viewer.core.pacs_nodes import (
    TLS_FIELDS,
    PacsNode,
    address_credentials,
    make_node,
    nodes_from_settings,
    nodes_to_settings,
    own_ae_title,
    unreadable_tls_files,
    with_node,
    without_node,
)
from viewer.core.settings import Settings
from viewer.pacs_client import echo_node
from viewer.qt.pacs_jobs import PacsJobs, pacs_button

ADDRESS_HINT = "http://HOST:8042/dicom-web  or  dicom://AE_TITLE@HOST:PORT"


class PacsNodesTab(QWidget):
    """The node list with a name and address form; ``nodes_changed`` carries the new list."""

    nodes_changed = Signal(list)

    def __init__(
        self,
        settings: Settings,
        save_settings: Callable[[], None],
        jobs: PacsJobs,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self._save_settings, self.jobs = settings, save_settings, jobs
        self.nodes = nodes_from_settings(settings.pacs_nodes)
        self.node_list = QListWidget()
        self.node_list.currentRowChanged.connect(self._on_node_selected)
        self.node_name = QLineEdit(placeholderText="e.g. Orthanc")
        self.node_address = QLineEdit(placeholderText=ADDRESS_HINT)
        self.node_user = QLineEdit(placeholderText="DICOMweb: user name (with a password)")
        self.node_password = QLineEdit(placeholderText="kept in the OS credential store")
        self.node_token = QLineEdit(placeholderText="DICOMweb: or a bearer token")
        for secret in (self.node_password, self.node_token):
            secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.node_tls_ca = QLineEdit(placeholderText="PEM: the CA that signed the PACS's certificate")
        self.node_tls_cert = QLineEdit(placeholderText="PEM: our client certificate (optional)")
        self.node_tls_key = QLineEdit(placeholderText="PEM: its key (default: in the certificate's file)")
        self.tls_fields = {
            "tls_ca": self.node_tls_ca,
            "tls_cert": self.node_tls_cert,
            "tls_key": self.node_tls_key,
        }
        self.browse_buttons = {key: pacs_button("Browse…", self._browser(key)) for key in TLS_FIELDS}
        form = QFormLayout()
        form.addRow("N&ame:", self.node_name)
        form.addRow("A&ddress:", self.node_address)
        form.addRow("&User:", self.node_user)
        form.addRow("&Password:", self.node_password)
        form.addRow("To&ken:", self.node_token)
        for key, label in (
            ("tls_ca", "TLS &CA:"),
            ("tls_cert", "TLS cl&ient cert:"),
            ("tls_key", "TLS ke&y:"),
        ):
            row = QHBoxLayout()
            row.addWidget(self.tls_fields[key], 1)
            row.addWidget(self.browse_buttons[key])
            buddy = QLabel(label)
            buddy.setBuddy(self.tls_fields[key])  # Alt+letter reaches the field; Tab then its Browse…
            form.addRow(buddy, row)
        self.own_ae_title = QLineEdit(settings.pacs_ae_title, maxLength=16)
        self.own_ae_title.setToolTip(
            "The calling AE title PACS nodes see in a C-ECHO or C-STORE (Enter keeps it)"
        )
        self.own_ae_title.editingFinished.connect(self.set_own_ae_title)
        own = QFormLayout()
        own.addRow("This &workstation's AE title:", self.own_ae_title)
        self.notice = QLabel(settings.credential_notice, wordWrap=True)
        self.notice.setVisible(bool(settings.credential_notice))
        self.save_node_button = pacs_button("&Save Node", self.save_node)
        self.remove_node_button = pacs_button("&Remove", self.remove_node)
        self.forget_button = pacs_button("&Forget Credentials", self.forget_credentials)
        self.test_button = pacs_button("&Test", self.test_node)
        jobs.busy_changed.connect(self.test_button.setDisabled)
        buttons = QHBoxLayout()
        for button in (self.save_node_button, self.remove_node_button, self.forget_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.node_list, 1)
        layout.addLayout(form)
        layout.addWidget(self.notice)
        layout.addLayout(buttons)
        layout.addLayout(own)
        self._show_nodes()

    def _show_nodes(self) -> None:
        self.node_list.clear()
        self.node_list.addItems([node.label() for node in self.nodes])

    @Slot(int)
    def _on_node_selected(self, row: int) -> None:
        if 0 <= row < len(self.nodes):
            node = self.nodes[row]
            self.node_name.setText(node.name)
            self.node_address.setText(node.address)
            for key, field in self.tls_fields.items():
                field.setText(getattr(node, key))
            self._show_credentials(node)

    def _show_credentials(self, node: PacsNode) -> None:
        """The stored user name, and whether a password or token is stored (never the secret itself)."""
        self._clear_secrets()
        self.node_user.clear()
        stored = None
        if node.is_dicomweb:
            from inference.pacs import credential_store

            try:
                stored = credential_store.load(node.name)
            except ValueError as exc:
                self.jobs.say(str(exc))
        kept = "stored in the OS credential store (type to replace)"
        if stored is not None and stored.scheme == "basic":
            self.node_user.setText(stored.username)
            self.node_password.setPlaceholderText(kept)
        elif stored is not None:
            self.node_token.setPlaceholderText(kept)

    def _clear_secrets(self) -> None:
        self.node_password.clear()
        self.node_token.clear()
        self.node_password.setPlaceholderText("kept in the OS credential store")
        self.node_token.setPlaceholderText("DICOMweb: or a bearer token")

    def save_node(self) -> None:
        """Add the node typed in, or update the one of that name; kept in the settings at once, and its
        credentials (typed, or a password typed in the address) in the OS credential store, never in
        the settings."""
        try:
            node = self._typed_node(self.node_name.text())
            credentials = self._typed_credentials(node)
            if credentials is not None:
                node = replace(node, address=without_credentials(node.address))
                from inference.pacs import credential_store

                credential_store.save(node.name, credentials)
        except ValueError as exc:
            self.jobs.say(f"Not saved: {exc}")
            return
        self._set_nodes(with_node(self.nodes, node))
        self.node_list.setCurrentRow(self.nodes.index(node))
        self._show_credentials(node)
        kept = " (its credentials in the OS credential store)" if credentials is not None else ""
        self.jobs.say(f"Saved {node.name}{kept}.")

    def _typed_node(self, name: str) -> PacsNode:
        """The node the form holds, called ``name``; ``ValueError`` says what is wrong with it."""
        tls = (field.text() for field in self.tls_fields.values())
        node = make_node(name, self.node_address.text(), *tls)
        unreadable = unreadable_tls_files(node)
        if unreadable:
            raise ValueError(f"cannot read the {', '.join(unreadable)}")
        return node

    def _browser(self, key: str) -> Callable[[], None]:
        return lambda: self.browse(key)  # no argument: Qt's clicked(checked) is not passed on

    def browse(self, key: str) -> None:
        """Choose the node's ``key`` TLS file (``tls_ca``, ``tls_cert``, ``tls_key``)."""
        field = self.tls_fields[key]
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"Choose the {TLS_FIELDS[key]}",
            field.text(),
            "PEM files (*.pem *.crt *.cer *.key);;All files (*)",
        )
        if path:
            field.setText(path)

    def _typed_credentials(self, node: PacsNode) -> Credentials | None:
        """The credentials typed in the fields, else a password typed in the address; None for none.
        ``ValueError`` for a half set, or credentials for a DIMSE node."""
        typed = (self.node_user.text().strip(), self.node_password.text(), self.node_token.text().strip())
        in_address = address_credentials(node.address) if node.is_dicomweb else None
        if not node.is_dicomweb:
            if typed[1] or typed[2]:
                raise ValueError("a DIMSE node takes no password or token")
            return None
        if typed[1] or typed[2]:
            return Credentials(*typed)
        if typed[0] and in_address is None:
            from inference.pacs import credential_store

            stored = credential_store.load(node.name)
            if stored is None or stored.username != typed[0]:
                raise ValueError("a user name needs a password (or clear the user name)")
        return in_address

    def forget_credentials(self) -> None:
        """Remove the selected node's credentials from the OS credential store."""
        row = self.node_list.currentRow()
        if not 0 <= row < len(self.nodes):
            self.jobs.say("Select a node first.")
            return
        from inference.pacs import credential_store

        node = self.nodes[row]
        try:
            credential_store.forget(node.name)
        except ValueError as exc:
            self.jobs.say(str(exc))
            return
        self._show_credentials(node)
        self.jobs.say(f"Forgot the credentials of {node.name}.")

    def remove_node(self) -> None:
        """Remove the selected node, and its credentials from the OS credential store."""
        row = self.node_list.currentRow()
        if 0 <= row < len(self.nodes):
            name = self.nodes[row].name
            self._set_nodes(without_node(self.nodes, name))
            said = f"Removed {name}."
            from inference.pacs import credential_store

            try:
                credential_store.forget(name)
            except ValueError as exc:
                said += f" {exc}"
            self.jobs.say(said)

    def _set_nodes(self, nodes: list[PacsNode]) -> None:
        self.nodes = nodes
        self.settings.pacs_nodes = nodes_to_settings(nodes)
        self._save_settings()
        self._show_nodes()
        self.nodes_changed.emit(nodes)

    def test_node(self) -> None:
        """Test the node the form holds, saved or not (one without a name is called by its address):
        C-ECHO a DIMSE node as this workstation's AE title, or a one-study QIDO-RS query to a DICOMweb
        one with the credentials typed (else those stored under its name). Nothing is saved."""
        try:
            node = self._typed_node(self.node_name.text().strip() or self.node_address.text())
            credentials = self._typed_credentials(node)
        except ValueError as exc:
            self.jobs.say(f"Not tested: {exc}")
            return
        test = partial(echo_node, calling=self.settings.pacs_ae_title, credentials=credentials)
        self.jobs.start(test, node)

    def set_own_ae_title(self) -> None:
        """Keep the AE title typed as this workstation's, when valid; else show the kept one again."""
        try:
            title = own_ae_title(self.own_ae_title.text())
        except ValueError as exc:
            self.own_ae_title.setText(self.settings.pacs_ae_title)
            self.jobs.say(f"Not kept: {exc}")
            return
        self.own_ae_title.setText(title)
        if title != self.settings.pacs_ae_title:
            self.settings.pacs_ae_title = title
            self._save_settings()
            self.jobs.say(f"PACS nodes now see this workstation as {title}.")
