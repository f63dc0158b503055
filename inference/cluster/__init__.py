"""Batch scoring on a Ray cluster: distributed scanning, an actor pool of scorers, one store writer.

This package imports Ray; only the ``batch`` command imports it (``cxr-triage --help`` never does).
The driver owns the store and the worklist; workers receive file paths and send back
:class:`~inference.store.ImageResult` rows, never torch objects.
"""

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline product: Ray never reports usage
