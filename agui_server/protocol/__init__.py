"""The AG-UI 1.0 wire model, its encoding, its ordering rules and the 0.0.x downgrades.

Imports no web framework.
"""

from __future__ import annotations

from agui_server.protocol.compat import downgrade, is_legacy_client
from agui_server.protocol.encoding import InputError, decode_event, decode_input, encode_event, sse_frame
from agui_server.protocol.events import *  # noqa: F403
from agui_server.protocol.events import __all__ as _events_all
from agui_server.protocol.ordering import RULES, OrderingMachine, OrderingViolation
from agui_server.protocol.types import *  # noqa: F403
from agui_server.protocol.types import __all__ as _types_all

__all__ = (
    *_events_all,
    *_types_all,
    "RULES",
    "InputError",
    "OrderingMachine",
    "OrderingViolation",
    "decode_event",
    "decode_input",
    "downgrade",
    "encode_event",
    "is_legacy_client",
    "sse_frame",
)
