"""Client for the confirmation gateway.

The original WebSocketManager's calls (`notify_user`, `broadcast_message`, `send_to_user`,
`send_heartbeat`, `get_status`, `get_connection_count`) with the same names and meaning,
answered over HTTP by the gateway, with retries that never ask the user twice.
"""

from ._flows import RetryPolicy
from .approvals import Approvers, Escalation, Option, Reminders, Vote
from .async_client import AsyncGatewayClient, AsyncHeartbeat
from .client import GatewayClient, Heartbeat
from .errors import (
    CallbackConflictError,
    CallbackNotFoundError,
    ConfigurationError,
    ConflictError,
    GatewayError,
    GatewayResponseError,
    GatewayUnavailableError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TaskCancelledError,
    UnauthorizedError,
)
from .decorator import (
    ConfirmationCancelled,
    ConfirmationError,
    ConfirmationRejected,
    ConfirmationTimedOut,
    SignatureForm,
    requires_confirmation,
)
from .models import Confirmation, HeartbeatInfo, TaskStepResult, UserConfirmation
from .webhooks import WebhookVerificationError, sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "WebhookVerificationError",
    "sign_webhook",
    "verify_webhook",
    "Approvers",
    "ConfirmationCancelled",
    "ConfirmationError",
    "ConfirmationRejected",
    "ConfirmationTimedOut",
    "Escalation",
    "Option",
    "Reminders",
    "SignatureForm",
    "Vote",
    "requires_confirmation",
    "AsyncGatewayClient",
    "AsyncHeartbeat",
    "CallbackConflictError",
    "CallbackNotFoundError",
    "ConfigurationError",
    "Confirmation",
    "ConflictError",
    "GatewayClient",
    "GatewayError",
    "GatewayResponseError",
    "GatewayUnavailableError",
    "Heartbeat",
    "HeartbeatInfo",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "TaskCancelledError",
    "TaskStepResult",
    "UnauthorizedError",
    "UserConfirmation",
]
