"""``python -m agui_server`` is ``agui-server``."""

import sys

from agui_server.cli import main

sys.exit(main())
