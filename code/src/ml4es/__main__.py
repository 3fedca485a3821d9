"""Entry point of ``python -m ml4es``."""

import sys

from ml4es.cli import main

sys.exit(main())
