"""One module per ``cxr-triage`` command; see :mod:`inference.cli.main`."""
