"""``python -m lite`` runs the command line."""

import sys

from lite.cli import main

sys.exit(main())
