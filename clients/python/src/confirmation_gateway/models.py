"""The data the client sends and returns.

`TaskStepResult` and `UserConfirmation` keep the field names of the original
WebSocketManager's pydantic models, so code that reads `confirmation.proceed` or builds
`TaskStepResult(step=..., message=..., status=...)` keeps working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .approvals import Vote, votes_from

JsonObject = Dict[str, Any]

STEP_RESULT_FIELDS = ("step", "result", "completed", "message", "status", "error_code", "error_message")
_REQUIRED_STEP_RESULT_FIELDS = ("step", "message", "status")


@dataclass
class TaskStepResult:
    """A finished step to show the user: `step` is the step's name, `message` the question."""

    step: str
    message: str
    status: str
    result: Any = None
    completed: bool = False
    error_code: Optional[str] = None
    error_message: Optional[str] = None


@dataclass(frozen=True)
class UserConfirmation:
    """The decision. `proceed` and `feedback` as in the original; the rest says how it came about.

    With approvals (issue 21): `option` is the id of the option picked (None without options),
    `data` the form's values as approved (possibly edited; None without a form or when
    declined), `decided_by` the user whose answer or vote settled it (None on a timeout or a
    cancellation), `votes` every approver's answer in order."""

    proceed: bool
    feedback: Optional[str] = None
    timed_out: bool = False
    cancelled: bool = False
    callback_id: Optional[str] = None
    option: Optional[str] = None
    data: Optional[JsonObject] = None
    decided_by: Optional[str] = None
    votes: Tuple[Vote, ...] = ()

    @classmethod
    def from_decision(cls, body: JsonObject) -> UserConfirmation:
        data = body.get("data")
        return cls(
            proceed=bool(body["proceed"]),
            feedback=body.get("feedback"),
            timed_out=bool(body.get("timed_out", False)),
            cancelled=bool(body.get("cancelled", False)),
            callback_id=body.get("callback_id"),
            option=body.get("option"),
            data=data if isinstance(data, dict) else None,
            decided_by=body.get("decided_by"),
            votes=votes_from(body.get("votes")),
        )


@dataclass(frozen=True)
class Confirmation:
    """What the gateway knows about one confirmation (`GET /confirmations/{callback_id}`)."""

    callback_id: str
    user_id: str
    task_id: str
    step: int
    step_name: str
    message: str
    state: str
    proceed: Optional[bool]
    feedback: Optional[str]
    timed_out: bool
    cancelled: bool
    created_at: float
    expires_at: float
    settled_at: Optional[float]
    option: Optional[str] = None
    data: Optional[JsonObject] = None
    decided_by: Optional[str] = None
    votes: Tuple[Vote, ...] = ()

    @property
    def pending(self) -> bool:
        return self.state == "pending"

    def to_user_confirmation(self) -> Optional[UserConfirmation]:
        """The decision, or None while the confirmation is still pending."""
        if self.pending or self.proceed is None:
            return None
        return UserConfirmation(
            self.proceed,
            self.feedback,
            self.timed_out,
            self.cancelled,
            self.callback_id,
            self.option,
            self.data,
            self.decided_by,
            self.votes,
        )

    @classmethod
    def from_view(cls, body: JsonObject) -> Confirmation:
        names = [field.name for field in dataclasses.fields(cls) if field.name != "votes"]
        return cls(**{name: body.get(name) for name in names}, votes=votes_from(body.get("votes")))


@dataclass(frozen=True)
class HeartbeatInfo:
    """A running heartbeat as the gateway reported it when it started."""

    heartbeat_id: str
    user_id: str
    task_id: str
    interval_seconds: float
    message: str
    started_at: float
    ends_at: float

    @classmethod
    def from_view(cls, body: JsonObject) -> HeartbeatInfo:
        names = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: body.get(name) for name in names})


def step_result_to_json(step_result: Any) -> JsonObject:
    """Reads a TaskStepResult, a caller's own pydantic model or dataclass with the same
    fields, or a mapping. Fields are read by name, so pydantic 1 and 2 both work."""
    if isinstance(step_result, Mapping):
        values = {name: step_result[name] for name in STEP_RESULT_FIELDS if name in step_result}
    else:
        values = {name: getattr(step_result, name) for name in STEP_RESULT_FIELDS if hasattr(step_result, name)}
    missing = [name for name in _REQUIRED_STEP_RESULT_FIELDS if values.get(name) is None]
    if missing:
        raise TypeError(f"step_result has no {', '.join(missing)}: expected a TaskStepResult or an object with its fields")
    return values
