"""What a confirmation may ask besides yes or no (issue 21): named options, a form, who may
answer and how many must agree, reminders and escalation. Each is a small dataclass; every
call that takes one also takes a plain mapping with the wire's field names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

JsonObject = Dict[str, Any]

POLICIES = ("any", "all", "quorum")


@dataclass(frozen=True)
class Option:
    """A button the user can pick instead of plain Proceed / Cancel; `proceed` says whether
    picking it lets the task go on."""

    id: str
    label: str
    proceed: bool = True
    description: Optional[str] = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {"id": self.id, "label": self.label, "proceed": self.proceed}
        if self.description is not None:
            body["description"] = self.description
        return body


@dataclass(frozen=True)
class Approvers:
    """Who may answer: these users, and every member of these groups. When given it is the
    exact set (list the task's own user in `users` to include them)."""

    users: Tuple[str, ...] = ()
    groups: Tuple[str, ...] = ()

    def to_json(self) -> JsonObject:
        return _people(self.users, self.groups)


@dataclass(frozen=True)
class Reminders:
    """Shows the prompt again every `every_seconds`, at most `max` times, while it is pending."""

    every_seconds: float
    max: int

    def to_json(self) -> JsonObject:
        return {"every_seconds": self.every_seconds, "max": self.max}


@dataclass(frozen=True)
class Escalation:
    """After `after_seconds` still pending, these users and groups become approvers too."""

    after_seconds: float
    users: Tuple[str, ...] = ()
    groups: Tuple[str, ...] = ()

    def to_json(self) -> JsonObject:
        return {"after_seconds": self.after_seconds, **_people(self.users, self.groups)}


def _people(users: Tuple[str, ...], groups: Tuple[str, ...]) -> JsonObject:
    """Users and groups as the gateway reads them: only the lists that are not empty."""
    body: JsonObject = {}
    if users:
        body["users"] = list(users)
    if groups:
        body["groups"] = list(groups)
    return body


@dataclass(frozen=True)
class Vote:
    """One approver's answer so far: `at` is the server's epoch seconds."""

    user_id: str
    proceed: bool
    option: Optional[str] = None
    at: Optional[float] = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Vote:
        return cls(str(body["user_id"]), bool(body["proceed"]), body.get("option"), body.get("at"))


OptionLike = Union[Option, Mapping[str, Any]]
ApproversLike = Union[Approvers, Mapping[str, Any], Sequence[str]]
RemindersLike = Union[Reminders, Mapping[str, Any]]
EscalationLike = Union[Escalation, Mapping[str, Any]]


@dataclass(frozen=True)
class ApprovalRequest:
    """The optional fields of POST /notify that issue 21 added; `to_json` writes only those
    that are set, so a plain notify_user sends exactly what it sent before."""

    options: Optional[Sequence[OptionLike]] = None
    form: Optional[Mapping[str, Any]] = None
    approvers: Optional[ApproversLike] = None
    policy: Optional[str] = None
    quorum: Optional[int] = None
    forbid_self: Optional[bool] = None
    requested_by: Optional[str] = None
    reminders: Optional[RemindersLike] = None
    escalation: Optional[Sequence[EscalationLike]] = None
    extra: JsonObject = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        body: JsonObject = {}
        if self.options is not None:
            body["options"] = [_json_of(option) for option in self.options]
        if self.form is not None:
            body["form"] = dict(self.form)
        if self.approvers is not None:
            body["approvers"] = _approvers_json(self.approvers)
        if self.policy is not None:
            if self.policy not in POLICIES:
                raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
            body["policy"] = self.policy
        if self.quorum is not None:
            body["quorum"] = self.quorum
        if self.forbid_self is not None:
            body["forbid_self"] = self.forbid_self
        if self.requested_by is not None:
            body["requested_by"] = self.requested_by
        if self.reminders is not None:
            body["reminders"] = _json_of(self.reminders)
        if self.escalation is not None:
            body["escalation"] = [_json_of(step) for step in self.escalation]
        body.update(self.extra)
        return body


def _json_of(value: Any) -> JsonObject:
    if hasattr(value, "to_json"):
        return value.to_json()  # type: ignore[no-any-return]
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"expected a mapping or one of the client's dataclasses, got {type(value).__name__}")


def _approvers_json(value: ApproversLike) -> JsonObject:
    # A bare list of user ids is the common case: approvers=["alice", "bob"].
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return {"users": list(value)}
    if isinstance(value, str):
        raise TypeError("approvers must be a list of user ids, an Approvers or a mapping, not a string")
    return _json_of(value)


def votes_from(value: Any) -> Tuple[Vote, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Vote.from_json(vote) for vote in value if isinstance(vote, Mapping))
