"""What the frozen ``cxr-triage`` runs: the console script's entry point (packaging/cxr-triage.spec)."""

import sys

from viewer.app import main

if __name__ == "__main__":
    sys.exit(main())
