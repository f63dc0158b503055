"""Viewer settings in a plain JSON file; thresholds are kept per model, keyed by weights sha256."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.api import ModelCard
from viewer.core import paths
from viewer.core.pacs_nodes import (
    DEFAULT_OWN_AE_TITLE,
    move_passwords_to_credential_store,
    nodes_from_settings,
    nodes_to_settings,
    own_ae_title_or_default,
)

log = logging.getLogger(__name__)
MAX_RECENT = 8
_NOT_SAVED = {"path", "credential_notice"}


@dataclass
class Settings:
    """Everything that survives a restart. ``path`` is where :meth:`save` writes."""

    path: Path = field(default_factory=paths.settings_path)
    export_folder: str = ""
    deidentify: bool = False
    last_model: str = ""
    recent_folders: list[str] = field(default_factory=list)
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # sha256 -> label -> t
    window_geometry: str = ""  # base64, written by the Qt layer
    window_state: str = ""
    splitter_state: str = ""
    pacs_nodes: list[dict[str, str]] = field(default_factory=list)  # {"name", "address"}: see pacs_nodes
    window_presets: dict[str, list[float]] = field(default_factory=dict)  # name -> [level, width] in units
    worklist_columns: dict[str, bool] = field(default_factory=dict)  # the reader's choices: column -> shown
    pacs_ae_title: str = DEFAULT_OWN_AE_TITLE  # this workstation's calling AE title (PACS dialog)
    # What loading did with passwords found in saved addresses (moved to the OS credential store, or
    # why not), for the Nodes tab to show; never saved.
    credential_notice: str = field(default="", compare=False, repr=False)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read ``path`` (default: the user's settings file); a missing or corrupt file gives defaults."""
        path = Path(path) if path is not None else paths.settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, ValueError) as exc:
            log.warning("settings unreadable, using defaults: %s", type(exc).__name__)
            return cls(path=path)
        if isinstance(data, dict) and "hide_phi" in data:  # a file saved before the option was renamed
            data.setdefault("deidentify", data.pop("hide_phi"))
        known = {f.name for f in dataclasses.fields(cls)} - _NOT_SAVED
        values = {k: v for k, v in data.items() if k in known} if isinstance(data, dict) else {}
        try:
            out = cls(path=path, **values)
            out.recent_folders = [str(p) for p in out.recent_folders][:MAX_RECENT]
            out.thresholds = {
                str(sha): {str(k): float(v) for k, v in th.items()} for sha, th in out.thresholds.items()
            }
            out.pacs_nodes = nodes_to_settings(nodes_from_settings(out.pacs_nodes))
            out.window_presets = {str(k): [float(v[0]), float(v[1])] for k, v in out.window_presets.items()}
            out.worklist_columns = {str(k): bool(v) for k, v in out.worklist_columns.items()}
            out.pacs_ae_title = own_ae_title_or_default(out.pacs_ae_title)
        except (TypeError, ValueError, AttributeError):
            log.warning("settings malformed, using defaults")
            return cls(path=path)
        out.move_passwords_to_credential_store()
        return out

    def move_passwords_to_credential_store(self) -> None:
        """Move a password still in a saved node's address into the OS credential store and rewrite the
        file without it; where that cannot be done the file is left as it is. Either is logged once and
        kept in :attr:`credential_notice`."""
        nodes, notice = move_passwords_to_credential_store(nodes_from_settings(self.pacs_nodes))
        if not notice:
            return
        self.credential_notice = notice
        log.warning("PACS nodes: %s", notice)
        moved = nodes_to_settings(nodes)
        if moved != self.pacs_nodes:
            self.pacs_nodes = moved
            try:
                self.save()
            except OSError as exc:
                log.warning("settings not rewritten without the moved passwords: %s", type(exc).__name__)

    def save(self) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in dataclasses.asdict(self).items() if k not in _NOT_SAVED}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def add_recent(self, folder: str | Path) -> None:
        folder = str(folder)
        self.recent_folders = [folder] + [f for f in self.recent_folders if f != folder]
        del self.recent_folders[MAX_RECENT:]

    def thresholds_for(self, card: ModelCard) -> dict[str, float]:
        """The card's thresholds, overridden by any saved for these exact weights."""
        out = card.thresholds()
        saved = self.thresholds.get(card.weights_sha256, {})
        out.update({k: float(v) for k, v in saved.items() if k in out})
        return out

    def store_thresholds(self, card: ModelCard, thresholds: Mapping[str, float]) -> None:
        self.thresholds[card.weights_sha256] = {k: float(v) for k, v in thresholds.items()}

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
