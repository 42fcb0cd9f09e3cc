"""``python -m conformance URL``."""

import sys

from conformance.cli import main

sys.exit(main())
