"""The ``cxr-triage`` command line: the entry point (:mod:`inference.cli.main`), one module per command
(:mod:`inference.cli.commands`) and the terminal progress line."""
