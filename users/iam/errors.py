"""IAM's errors as the console's exceptions: `IamGateway` raises these, never botocore's.

No boto3 here, so that forms, validators and views that catch an error import only this.
"""

from __future__ import annotations


class IamError(Exception):
    """An IAM call failed. `str()` is IAM's message, with any secret we sent masked."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        request_id: str = "",
        operation: str = "",
        http_status: int | None = None,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.request_id = request_id
        self.operation = operation
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message


class EntityAlreadyExists(IamError): ...


class NoSuchEntity(IamError): ...


class LimitExceeded(IamError): ...


class PasswordPolicyViolation(IamError): ...


class MalformedPolicyDocument(IamError): ...


class AccessDenied(IamError): ...


class Throttled(IamError): ...


class InvalidInput(IamError): ...


class DeleteConflict(IamError): ...


class ConcurrentModification(IamError): ...


class ServiceFailure(IamError): ...


class PolicyNotAttachable(IamError): ...


class UnmodifiableEntity(IamError): ...


class InvalidPublicKey(IamError): ...


class CredentialReportNotReady(IamError):
    """IAM has no credential report to give yet (being generated, never made or expired)."""


class IamUnavailable(IamError):
    """No answer from IAM. Codes: EndpointUnavailable (the request never got through),
    NoResponse (it may have taken effect: reconcile before retrying a create), NoCredentials."""


class ReadOnlyConsole(IamError):
    """The console runs with IAM_READ_ONLY: the gateway refused a call that changes IAM
    without sending it."""

    def __init__(self, operation: str) -> None:
        message = f"Read-only: this console makes no changes to IAM (IAM_READ_ONLY); {operation} was not sent."
        super().__init__("ReadOnlyConsole", message, operation=operation)
