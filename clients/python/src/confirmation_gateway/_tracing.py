"""W3C trace context for the gateway's requests (`traceparent`, `tracestate`).

The gateway continues the caller's trace when it traces (OpenTelemetry, see the gateway's
README): the prompt's delivery, the user's answer and the decision join the span that asked.
The headers come from an explicit `traceparent=` argument, else from OpenTelemetry's current
context when the `opentelemetry` package is installed (nothing is sent otherwise).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

_TRACEPARENT = re.compile(r"^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACESTATE_MAX = 512

# opentelemetry.propagate.inject once looked up; None when the package is not installed.
_inject: Any = None
_looked_up = False


def explicit_trace_headers(traceparent: Optional[str], tracestate: Optional[str]) -> Optional[Dict[str, str]]:
    """The headers for a caller-given trace context; None without one. Raises ValueError for
    a malformed `traceparent`, or a `tracestate` without one."""
    if traceparent is None:
        if tracestate is not None:
            raise ValueError("tracestate needs a traceparent")
        return None
    if not _TRACEPARENT.match(traceparent):
        raise ValueError("traceparent must be a W3C traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>")
    headers = {"traceparent": traceparent}
    if tracestate:
        if len(tracestate) > _TRACESTATE_MAX or "\n" in tracestate or "\r" in tracestate:
            raise ValueError(f"tracestate must be one line of at most {_TRACESTATE_MAX} characters")
        headers["tracestate"] = tracestate
    return headers


def current_trace_headers() -> Optional[Dict[str, str]]:
    """`traceparent` (and `tracestate`) of OpenTelemetry's current context; None when there
    is no active span or no `opentelemetry` package."""
    global _inject, _looked_up
    if not _looked_up:
        try:
            from opentelemetry.propagate import inject
        except ImportError:
            inject = None
        _inject, _looked_up = inject, True
    if _inject is None:
        return None
    carrier: Dict[str, str] = {}
    _inject(carrier)
    headers = {name: carrier[name] for name in ("traceparent", "tracestate") if carrier.get(name)}
    return headers if "traceparent" in headers else None
