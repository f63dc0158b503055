"""Real DICOM studies for the compare and study-image tests: a patient's current PA + lateral study and
her prior PA study (copies of a bundled radiograph with edited headers), and a window on them that
reads the real files (the model is the fake one)."""

from __future__ import annotations

import threading
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid
from viewer_fakes import FakeService, fake_scorer

from inference.bundled import SAMPLES

SOURCE = SAMPLES / "CR_chest_SIIM_jpegbaseline_8bit.dcm"
CURRENT, PRIOR = "1.2.826.0.1.3680043.99.1", "1.2.826.0.1.3680043.99.2"


def write(folder: Path, name: str, study: str, date: str, view: str, patient: str = "PAT1") -> Path:
    ds = pydicom.dcmread(SOURCE)
    ds.PatientID, ds.StudyDate, ds.ViewPosition = patient, date, view
    ds.StudyInstanceUID, ds.SOPInstanceUID = study, generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = folder / name
    ds.save_as(path)
    return path


def make_studies(folder: Path) -> dict[str, Path]:
    """The current study (PA, LL) and the prior (PA) of patient PAT1."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "pa": write(folder, "current_pa.dcm", CURRENT, "20240301", "PA"),
        "lateral": write(folder, "current_lat.dcm", CURRENT, "20240301", "LL"),
        "prior": write(folder, "prior_pa.dcm", PRIOR, "20230105", "PA"),
    }


class CountingReader:
    """The product's reader, counting the reads of each file and the threads they ran on."""

    def __init__(self) -> None:
        from inference.io import read_image

        self._read = read_image
        self.reads: dict[Path, int] = {}
        self.threads: set[int] = set()

    def __call__(self, path: Path):
        self.threads.add(threading.get_ident())
        self.reads[Path(path)] = self.reads.get(Path(path), 0) + 1
        return self._read(path)


def open_real_window(qtbot, tmp_path: Path, folder: Path, reader: CountingReader):
    """A window without a store on ``folder``, every study scored by the fake model."""
    from viewer.core.settings import Settings
    from viewer.qt.engine_parts import EngineParts
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    service = FakeService()
    backend = EngineParts(
        read_image=reader, loader=lambda package, device: service, scorer=fake_scorer(reader), batch_size=4
    )
    session = TriageSession(backend)
    settings = Settings(path=tmp_path / "settings.json", export_folder=str(tmp_path / "exports"))
    win = MainWindow(session, settings)
    qtbot.addWidget(win)
    win.resize(1600, 900)  # the window's first size
    win.show()
    with qtbot.waitSignal(session.modelLoaded, timeout=5000):
        win.load_model(tmp_path / "fake-package")
    win.open_paths([folder])
    rows = session.worklist_model.worklist.rows
    qtbot.waitUntil(
        lambda: not session.busy and len(rows) == 2 and all(r.result for r in rows), timeout=20000
    )
    return win
