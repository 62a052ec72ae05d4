"""The one error type for calls to outside systems (after healthchecks' ``TransportError``)."""

from __future__ import annotations

from .untrusted import storable

#: An answer longer than the relay reads (relay/http.py, ``HTTP_MAX_RESPONSE_BYTES``): a permanent fault of that
#: call, whatever its status said.
RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"


class ExternalError(Exception):
    """A call to Salesforce or a provider failed.

    ``permanent``: retrying the same request cannot succeed (4xx other than 401/408/429); transient
    errors (timeouts, connection errors, 5xx, 429) are retried with backoff.
    ``retry_after``: seconds the other side asked us to wait (429/503 ``Retry-After``).
    ``code``: the vendor's own error code (Salesforce 10004, Infobip ``BAD_REQUEST``...), for the agent and the admin.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        # The other side's words end up on the message and its attempt: a NUL byte or half a surrogate pair
        # in them would make that write fail on PostgreSQL, and the failure's bookkeeping with it.
        message = storable(str(message))
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.code = storable(str(code)) if code is not None else None
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        return " – ".join(parts)

    @classmethod
    def from_status(
        cls, status: int, message: str, *, code: str | None = None, retry_after: float | None = None
    ):
        transient = status in (401, 408, 409, 425, 429) or status >= 500
        return cls(message, permanent=not transient, status=status, code=code, retry_after=retry_after)


class AuthError(ExternalError):
    """401 from the other side: the caller refreshes its token once and tries again."""
