"""Service last accessed data (the user details page's Last Accessed tab, ex-Access Advisor),
as IAM verbs: GenerateServiceLastAccessedDetails, GetServiceLastAccessedDetails and
ListPoliciesGrantingServiceAccess. All three only read IAM (the job they start changes nothing).

A mixin of `IamGateway` (users/iam/gateway.py), which provides `_call`: every call here is
translated and rate limited as the gateway's own. The result types are here too; this module
imports no boto3, so a view may import them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from users.iam.types import as_utc

if TYPE_CHECKING:
    from botocore.client import BaseClient

# IAM makes the job in a few seconds: ask this many times, this far apart, before the tab
# says it is not ready yet (as the credential report's, users/iam/gateway.py); 4, so that the
# user's page stays within its 12 IAM calls.
JOB_POLLS = 4
JOB_POLL_SECONDS = 0.5
PAGE_SIZE = 1000  # GetServiceLastAccessedDetails' largest MaxItems (its default is 100)
# ListPoliciesGrantingServiceAccess takes at most this many services per call.
NAMESPACES_PER_CALL = 200

JobStatus = Literal["COMPLETED", "IN_PROGRESS", "FAILED"]


@dataclass(frozen=True, slots=True)
class ServiceLastAccessed:
    """A service the entity's policies allow, when it last used it (None: not in the tracking
    period), and the names of the policies that allow it."""

    name: str
    namespace: str
    last_accessed: datetime | None
    policies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LastAccessedReport:
    """A job's outcome: its services when COMPLETED, IAM's message when FAILED, nothing yet
    when IN_PROGRESS."""

    status: JobStatus
    services: tuple[ServiceLastAccessed, ...] = ()
    error: str = ""


class AccessAdvisorVerbs:
    """When a user or group last used each service its policies allow."""

    if TYPE_CHECKING:  # provided by IamGateway

        def _call(self, operation: str, *, client: BaseClient | None = None, **params: Any) -> dict[str, Any]: ...

    def generate_service_last_accessed_details(self, arn: str) -> str:
        """Start a job reporting when the entity `arn` last used each service it is allowed;
        its JobId. Read-only: safe to call again (each call starts another job)."""
        return str(self._call("GenerateServiceLastAccessedDetails", Arn=arn)["JobId"])

    def get_service_last_accessed_details(self, job_id: str) -> dict[str, Any]:
        """The job's answer, its services from every page in ServicesLastAccessed."""
        response = self._call("GetServiceLastAccessedDetails", JobId=job_id, MaxItems=PAGE_SIZE)
        services = list(response.get("ServicesLastAccessed", []))
        while response.get("IsTruncated"):
            params = {"JobId": job_id, "MaxItems": PAGE_SIZE, "Marker": response["Marker"]}
            response = self._call("GetServiceLastAccessedDetails", **params)
            services += response.get("ServicesLastAccessed", [])
        return {**response, "ServicesLastAccessed": services}

    def policies_granting_service_access(self, arn: str, namespaces: list[str]) -> dict[str, tuple[str, ...]]:
        """Each service namespace → the names of the entity's policies that allow it (a user's
        groups' included), each name once."""
        granting: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(namespaces), NAMESPACES_PER_CALL):
            chunk = namespaces[start : start + NAMESPACES_PER_CALL]
            params: dict[str, Any] = {"Arn": arn, "ServiceNamespaces": chunk}
            while True:
                response = self._call("ListPoliciesGrantingServiceAccess", **params)
                for item in response["PoliciesGrantingServiceAccess"]:
                    names = granting.get(item["ServiceNamespace"], ()) + tuple(
                        p["PolicyName"] for p in item["Policies"]
                    )
                    granting[item["ServiceNamespace"]] = tuple(dict.fromkeys(names))
                if not response.get("IsTruncated"):
                    break
                params["Marker"] = response["Marker"]
        return granting

    def service_last_accessed(self, arn: str) -> LastAccessedReport:
        """Generate the entity's report and wait for it, JOB_POLLS times at most (IN_PROGRESS
        if IAM has not finished by then), with the policies allowing each service. Read-only."""
        job_id = self.generate_service_last_accessed_details(arn)
        for attempt in range(JOB_POLLS):
            if attempt:
                time.sleep(JOB_POLL_SECONDS)
            details = self.get_service_last_accessed_details(job_id)
            if details["JobStatus"] != "IN_PROGRESS":
                break
        else:
            return LastAccessedReport("IN_PROGRESS")
        if details["JobStatus"] == "FAILED":
            return LastAccessedReport("FAILED", error=details.get("Error", {}).get("Message", ""))
        found = details["ServicesLastAccessed"]
        policies = self.policies_granting_service_access(arn, [item["ServiceNamespace"] for item in found])
        services = (
            ServiceLastAccessed(
                name=item["ServiceName"],
                namespace=item["ServiceNamespace"],
                last_accessed=as_utc(item["LastAuthenticated"]) if item.get("LastAuthenticated") else None,
                policies=policies.get(item["ServiceNamespace"], ()),
            )
            for item in found
        )
        return LastAccessedReport("COMPLETED", tuple(sorted(services, key=lambda service: service.name.casefold())))
