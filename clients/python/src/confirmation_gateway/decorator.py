"""`requires_confirmation`: ask before a function runs, with its arguments as an editable form.

The function's parameters become a flat form (the JSON Schema subset the gateway accepts),
each prefilled with the value of this call; the user may edit them, then approve or decline.
On approval the function runs with the approved values; otherwise a ConfirmationError says
why, and the function does not run.
"""

from __future__ import annotations

import datetime
import enum
import functools
import inspect
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from .errors import GatewayError
from .models import JsonObject, TaskStepResult, UserConfirmation

F = TypeVar("F", bound=Callable[..., Any])

_NONE_TYPE = type(None)


class ConfirmationError(GatewayError):
    """The function did not run because the confirmation did not approve it; `decision` is
    the gateway's answer (proceed, feedback, option, decided_by, votes...)."""

    def __init__(self, message: str, decision: UserConfirmation) -> None:
        super().__init__(message)
        self.decision = decision


class ConfirmationRejected(ConfirmationError):
    """An approver declined (or the approvals could no longer be reached)."""


class ConfirmationCancelled(ConfirmationRejected):
    """The task was cancelled while the confirmation waited."""


class ConfirmationTimedOut(ConfirmationError):
    """Nobody decided in time. Raised whatever the gateway's WEBSOCKET_TIMEOUT_DECISION: a
    function that asks first never runs unasked."""


@dataclass(frozen=True)
class _Field:
    """One editable parameter: its schema, and how an approved JSON value becomes a Python one."""

    schema: JsonObject
    convert: Callable[[Any], Any]
    required: bool


def _identity(value: Any) -> Any:
    return value


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _unwrap_optional(hint: Any) -> Tuple[Any, bool]:
    """Optional[X] -> (X, True); anything else -> (hint, False)."""
    if get_origin(hint) is Union:
        members = [arg for arg in get_args(hint) if arg is not _NONE_TYPE]
        if len(members) == 1 and len(get_args(hint)) == 2:
            return members[0], True
    return hint, False


def _choices(hint: Any) -> Optional[Tuple[List[Any], Callable[[Any], Any]]]:
    """The JSON values of a Literal of strings or an Enum with string values, and the way back."""
    if get_origin(hint) is Literal:
        values = list(get_args(hint))
        if values and all(isinstance(value, str) for value in values):
            return values, _identity
        return None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        members = list(hint)
        if members and all(isinstance(member.value, str) for member in members):
            enum_type = hint
            return [member.value for member in members], lambda value: enum_type(value)
    return None


def _field_for(hint: Any) -> Optional[Tuple[JsonObject, Callable[[Any], Any]]]:
    """The form field of a type hint, or None when the form cannot edit that type."""
    if hint is bool:
        return {"type": "boolean"}, _identity
    if hint is int:
        return {"type": "integer"}, _int
    if hint is float:
        return {"type": "number"}, _float
    if hint is str:
        return {"type": "string"}, _identity
    if hint is datetime.date:
        return {"type": "string", "format": "date"}, datetime.date.fromisoformat
    choices = _choices(hint)
    if choices is not None:
        values, back = choices
        return {"type": "string", "enum": values}, back
    origin = get_origin(hint)
    if origin in (list, List, tuple, set, frozenset) and get_args(hint):
        args = get_args(hint)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return None
        item = _choices(args[0])
        if item is None:
            return None
        values, back = item
        container = {list: list, List: list, tuple: tuple, set: set, frozenset: frozenset}[origin]
        return {"type": "array", "items": {"type": "string", "enum": values}}, (
            lambda chosen: container(back(value) for value in chosen)
        )
    return None


def _json_default(value: Any) -> Any:
    """A call's value as the field's proposed default (JSON), or None when it has none."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.datetime):
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_default(item) for item in value]
    if isinstance(value, (bool, int, float, str)):
        return value
    return None


def _humanize(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


class SignatureForm:
    """The form of a function's signature: which parameters it edits, their schema, and the
    conversion of approved values back to the parameters' types. Parameters the form cannot
    show (other types, *args, **kwargs, `exclude`) pass through unchanged."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        exclude: Tuple[str, ...] = (),
        title: Optional[str] = None,
        constraints: Optional[Mapping[str, Mapping[str, Any]]] = None,
    ) -> None:
        self.signature = inspect.signature(function)
        try:
            hints = get_type_hints(function)
        except Exception:  # unresolvable forward references: fall back to the raw annotations
            hints = {name: p.annotation for name, p in self.signature.parameters.items()}
        self.title = title
        self.fields: Dict[str, _Field] = {}
        for name, parameter in self.signature.parameters.items():
            if name in exclude or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            hint = hints.get(name, parameter.annotation)
            if hint is inspect.Parameter.empty:
                hint = type(parameter.default) if parameter.default not in (inspect.Parameter.empty, None) else None
            inner, optional = _unwrap_optional(hint)
            made = _field_for(inner)
            if made is None:
                continue
            schema, convert = made
            extra = dict((constraints or {}).get(name, {}))
            self.fields[name] = _Field({"title": _humanize(name), **schema, **extra}, convert, not optional)
        unknown = set(constraints or {}) - set(self.fields)
        if unknown:
            raise TypeError(f"constraints name parameters the form does not show: {', '.join(sorted(unknown))}")

    def schema(self, arguments: Mapping[str, Any]) -> JsonObject:
        """The form for one call: each field's default is that call's value."""
        properties: JsonObject = {}
        for name, field in self.fields.items():
            schema = dict(field.schema)
            default = _json_default(arguments.get(name))
            if default is not None:
                schema["default"] = default
            properties[name] = schema
        form: JsonObject = {"type": "object", "properties": properties}
        required = [name for name, field in self.fields.items() if field.required]
        if required:
            form["required"] = required
        if self.title:
            form["title"] = self.title
        return form

    def apply(self, bound: inspect.BoundArguments, data: Optional[Mapping[str, Any]]) -> inspect.BoundArguments:
        """The call's arguments with the approved values in place of the proposed ones."""
        arguments = dict(bound.arguments)
        for name, value in (data or {}).items():
            field = self.fields.get(name)
            if field is None:
                continue  # not a field of this form: never let an answer add arguments
            arguments[name] = None if value is None else field.convert(value)
        return inspect.BoundArguments(self.signature, cast(Any, arguments))


def _check_decision(function: Callable[..., Any], decision: UserConfirmation) -> None:
    name = getattr(function, "__qualname__", repr(function))
    if decision.cancelled:
        raise ConfirmationCancelled(f"{name} did not run: its task was cancelled", decision)
    if decision.timed_out:
        raise ConfirmationTimedOut(f"{name} did not run: nobody decided in time", decision)
    if not decision.proceed:
        by = f" by {decision.decided_by}" if decision.decided_by else ""
        why = f": {decision.feedback}" if decision.feedback else ""
        raise ConfirmationRejected(f"{name} did not run: declined{by}{why}", decision)


def _value(setting: Any, arguments: Mapping[str, Any]) -> Any:
    """A setting given as a value, or as a function of the call's arguments."""
    return setting(dict(arguments)) if callable(setting) else setting


def requires_confirmation(
    client: Any,
    *,
    user_id: Union[str, Callable[[Dict[str, Any]], str]],
    task_id: Optional[Union[str, Callable[[Dict[str, Any]], str]]] = None,
    message: Optional[Union[str, Callable[[Dict[str, Any]], str]]] = None,
    step: int = 1,
    timeout: Optional[float] = None,
    exclude: Tuple[str, ...] = (),
    constraints: Optional[Mapping[str, Mapping[str, Any]]] = None,
    editable: bool = True,
    **notify_options: Any,
) -> Callable[[F], F]:
    """Asks before the decorated function runs, showing its arguments as an editable form.

    `client` is a GatewayClient for a plain function, an AsyncGatewayClient for an `async def`.
    `user_id`, `task_id` (default: a fresh id per call) and `message` may be values or
    functions of the call's arguments (a dict by parameter name). Further keyword arguments
    (`approvers`, `policy`, `quorum`, `forbid_self`, `requested_by`, `reminders`,
    `escalation`, `options`) go to `notify_user` as they are. `exclude` names parameters kept
    out of the form; `constraints` adds schema keywords per parameter (e.g.
    `{"replicas": {"minimum": 1, "maximum": 10}}`); `editable=False` shows the arguments
    without a form.

    Returns the function's result run with the approved arguments; raises
    ConfirmationRejected, ConfirmationCancelled or ConfirmationTimedOut instead of running it.
    """

    def decorate(function: F) -> F:
        form = SignatureForm(function, exclude=exclude, constraints=constraints)
        name = getattr(function, "__qualname__", "function")
        asynchronous = inspect.iscoroutinefunction(function)
        if asynchronous != inspect.iscoroutinefunction(getattr(client, "notify_user", None)):
            wanted = "an AsyncGatewayClient" if asynchronous else "a GatewayClient"
            raise TypeError(f"{name} is {'an async' if asynchronous else 'a plain'} function: decorate it with {wanted}")

        def prepare(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[inspect.BoundArguments, Tuple[Any, ...], Dict[str, Any]]:
            bound = form.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            shown = {key: _json_default(value) for key, value in arguments.items() if key not in exclude}
            step_result = TaskStepResult(
                step=name,
                message=_value(message, arguments) if message is not None else f"Run {name}?",
                status="awaiting_confirmation",
                result={key: value for key, value in shown.items() if value is not None} or None,
            )
            call_options = dict(notify_options)
            if editable and form.fields:
                call_options["form"] = form.schema(arguments)
            task = _value(task_id, arguments) if task_id is not None else f"{name}-{uuid.uuid4().hex[:12]}"
            notify_args = (step_result, _value(user_id, arguments), task, step)
            return bound, notify_args, {"timeout": timeout, **call_options}

        def approved(bound: inspect.BoundArguments, decision: UserConfirmation) -> inspect.BoundArguments:
            _check_decision(function, decision)
            return form.apply(bound, decision.data) if editable else bound

        if asynchronous:

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                bound, notify_args, options = prepare(args, kwargs)
                decision = await client.notify_user(*notify_args, **options)
                final = approved(bound, decision)
                return await function(*final.args, **final.kwargs)

            async_wrapper.confirmation_form = form  # type: ignore[attr-defined]
            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound, notify_args, options = prepare(args, kwargs)
            decision = client.notify_user(*notify_args, **options)
            final = approved(bound, decision)
            return function(*final.args, **final.kwargs)

        wrapper.confirmation_form = form  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate
