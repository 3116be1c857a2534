"""Fault injection for IAM calls (RELIABILITY.md §2.1(a)).

`inject()` answers chosen operations with a synthetic IAM error before the request leaves
the client, so botocore's real parsing and retry logic run against it, and the gateway is
the real one. Usage:

    with inject(gateway, "CreateUser", "Throttling", times=2) as fault:
        gateway.create_user("alice")      # succeeds on the 3rd attempt
    assert fault.hits == 2
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.retries.standard import ExponentialBackoff

from users.iam.gateway import IamGateway

ERROR_BODY = (
    "<ErrorResponse><Error><Type>{type}</Type><Code>{code}</Code><Message>{message}</Message>"
    "</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
)
NOWHERE = "http://fault-injected.invalid/"


class _Body(io.BytesIO):
    """The raw body botocore reads an `AWSResponse` from."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


class Fault:
    """Answers the next `times` attempts of `operation` with an IAM error."""

    def __init__(self, operation: str, code: str, *, status: int, times: int, message: str) -> None:
        self.operation, self.code, self.status, self.times = operation, code, status, times
        self.message = message
        self.request_ids: list[str] = []  # one per injected answer
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        return len(self.request_ids)

    def respond(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        with self._lock:
            if self.hits >= self.times:
                return None  # let the call through (to moto or the network)
            request_id = f"fault-{self.operation}-{self.code}-{self.hits + 1}"
            self.request_ids.append(request_id)
        body = ERROR_BODY.format(
            type="Receiver" if self.status >= 500 else "Sender",
            code=escape(self.code),
            message=escape(self.message),
            request_id=request_id,
        )
        headers = {"x-amzn-RequestId": request_id, "Content-Type": "text/xml"}
        response = AWSResponse(
            request.url,
            self.status,
            headers,  # type: ignore[arg-type]  # botocore takes any mapping; botocore-stubs say HTTPHeaders
            _Body(body.encode()),
        )
        # botocore calls every before-send handler and uses the first response, so moto's
        # in-process stubber would still execute the call. Point this attempt's request at an
        # address moto does not serve: a faulted call never reaches IAM.
        request.url = NOWHERE
        return response


@contextmanager
def inject(
    gateway: IamGateway,
    operation: str,
    code: str,
    *,
    status: int = 400,
    times: int = 1,
    message: str = "Injected fault",
) -> Iterator[Fault]:
    """Make the gateway's clients answer `operation` with `code` for the next `times` attempts."""
    fault = Fault(operation, code, status=status, times=times, message=message)
    unique_id = f"fault-{id(fault)}"
    registered = []
    for client in gateway.clients:
        if operation in client.meta.service_model.operation_names:
            event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
            # More specific than moto's "before-send" handler, so this one runs first.
            client.meta.events.register_first(
                event,
                fault.respond,  # type: ignore[arg-type]  # botocore-stubs: -> None; before-send may return a response
                unique_id=unique_id,
            )
            registered.append((client, event))
    assert registered, f"no client of the gateway knows {operation}"
    try:
        yield fault
    finally:
        for client, event in registered:
            client.meta.events.unregister(event, unique_id=unique_id)


@contextmanager
def instant_retries() -> Iterator[None]:
    """botocore retries as usual, without sleeping between attempts (keeps tests fast)."""
    with mock.patch.object(ExponentialBackoff, "delay_amount", return_value=0):
        yield
