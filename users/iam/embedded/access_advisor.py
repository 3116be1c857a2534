"""IAM's service last accessed data ("Last Accessed", ex-Access Advisor) for the embedded
backend: moto implements none of GenerateServiceLastAccessedDetails,
GetServiceLastAccessedDetails and ListPoliciesGrantingServiceAccess. Installed by
`users.iam.embedded.fidelity.apply_moto_extensions`.

What is real: the operations' shapes, errors and paging (MaxItems and Marker); a job per
Generate, its JobId (36 characters) and its list of the services the entity's policies allow,
fixed when the job is made; for a user, the policies attached to it directly, its inline ones,
and its groups' managed and inline policies; for a group, its own; NoSuchEntity for an unknown
entity or job. ListPoliciesGrantingServiceAccess names, per service, the policies that allow it
(managed ones by ARN, inline ones by the user or group that has them).

What is not: no access is ever recorded (moto serves no other service), so no service has
LastAuthenticated, LastAuthenticatedEntity or LastAuthenticatedRegion and
TotalAuthenticatedEntities is 0; the job is COMPLETED at once (IAM answers IN_PROGRESS for a
few seconds); ACTION_LEVEL tracks no action. The services are read from the Allow statements'
Action and NotAction only: Deny statements, conditions, resources and permissions boundaries
are not weighed. IAM knows every service; here an action's own prefix is a service (named by
its namespace when it is not in SERVICES below), while a wildcard (`*`, `s3*:Get*`, NotAction)
expands to the services of the fixed list SERVICES. Roles and policies as the entity are
refused (InvalidInput). The account keeps its last MAX_JOBS jobs, in its snapshot.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, cast

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.exceptions import InvalidInput, NoSuchEntity
from moto.iam.models import Group, IAMBackend, ManagedPolicy, User
from moto.iam.responses import IamResponse

MAX_JOBS = 1000
PAGE_SIZE = 100  # GetServiceLastAccessedDetails' default MaxItems

# The services a wildcard allows, by namespace, with the names IAM gives them.
SERVICES = {
    "cloudformation": "AWS CloudFormation",
    "cloudtrail": "AWS CloudTrail",
    "cloudwatch": "Amazon CloudWatch",
    "codecommit": "AWS CodeCommit",
    "dynamodb": "Amazon DynamoDB",
    "ec2": "Amazon EC2",
    "ecr": "Amazon Elastic Container Registry",
    "ecs": "Amazon Elastic Container Service",
    "iam": "AWS Identity and Access Management",
    "kms": "AWS Key Management Service",
    "lambda": "AWS Lambda",
    "logs": "Amazon CloudWatch Logs",
    "organizations": "AWS Organizations",
    "rds": "Amazon RDS",
    "route53": "Amazon Route 53",
    "s3": "Amazon S3",
    "secretsmanager": "AWS Secrets Manager",
    "sns": "Amazon SNS",
    "sqs": "Amazon SQS",
    "ssm": "AWS Systems Manager",
    "sts": "AWS Security Token Service",
}


class _Grant(TypedDict, total=False):
    """A policy that allows a service, as ListPoliciesGrantingServiceAccess lists it."""

    PolicyName: str
    PolicyType: str  # MANAGED or INLINE
    PolicyArn: str  # managed policies only
    EntityType: str  # inline policies only: USER or GROUP
    EntityName: str


class _Job(TypedDict):
    """A Generate's job, as kept (in the snapshot too)."""

    JobType: str
    JobCreationDate: datetime
    Services: list[dict[str, Any]]


if TYPE_CHECKING:

    class _BackendWithJobs(IAMBackend):
        """moto's IAM backend with this module's store (see `_jobs`)."""

        service_last_accessed_jobs: dict[str, _Job]


@dataclass(frozen=True, slots=True)
class _Policy:
    grant: _Grant
    document: str


def _jobs(backend: IAMBackend) -> dict[str, _Job]:
    """The account's jobs by JobId (created on first use: older snapshots lack it)."""
    extended = cast("_BackendWithJobs", backend)
    if not hasattr(extended, "service_last_accessed_jobs"):
        extended.service_last_accessed_jobs = {}
    return extended.service_last_accessed_jobs


def _managed(policy: ManagedPolicy) -> _Policy:
    document = next((version.document for version in policy.versions if version.is_default), "")
    return _Policy({"PolicyName": policy.name, "PolicyType": "MANAGED", "PolicyArn": policy.arn}, document)


def _inline(entity: User | Group, kind: str) -> Iterator[_Policy]:
    for name, document in list(entity.policies.items()):
        yield _Policy(
            {"PolicyName": name, "PolicyType": "INLINE", "EntityType": kind, "EntityName": entity.name}, document
        )


def _group_policies(group: Group) -> list[_Policy]:
    return [_managed(policy) for policy in list(group.managed_policies.values())] + list(_inline(group, "GROUP"))


def _policies(backend: IAMBackend, arn: str) -> list[_Policy]:
    """The policies that apply to the user or group `arn` (a user's groups' included)."""
    if not arn.startswith("arn:") or ":iam::" not in arn:
        raise InvalidInput(f"ARN {arn} is not valid.")
    if user := next((user for user in list(backend.users.values()) if user.arn == arn), None):
        found = [_managed(policy) for policy in list(user.managed_policies.values())] + list(_inline(user, "USER"))
        for member_of in backend.get_groups_for_user(user.name):
            found += _group_policies(member_of)
        return found
    if group := next((group for group in list(backend.groups.values()) if group.arn == arn), None):
        return _group_policies(group)
    if ":user/" in arn or ":group/" in arn:
        raise NoSuchEntity(f"The entity {arn} cannot be found.")
    raise InvalidInput(f"Service last accessed data is available here for users and groups only, not {arn}.")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _namespaces(patterns: list[str]) -> set[str]:
    """The services the Action patterns name: an exact prefix as it is, a wildcard one as the
    services of SERVICES it matches."""
    found = set()
    for pattern in patterns:
        prefix = pattern.partition(":")[0].lower()
        if "*" in prefix or "?" in prefix:
            found |= {namespace for namespace in SERVICES if fnmatch.fnmatchcase(namespace, prefix)}
        elif prefix:
            found.add(prefix)
    return found


def allowed_namespaces(document: str) -> set[str]:
    """The services a policy document's Allow statements allow (`NotAction`: the services of
    SERVICES it does not name whole); a document that is not JSON allows nothing."""
    try:
        statements = _as_list(json.loads(document).get("Statement"))
    except (ValueError, AttributeError):
        return set()
    found: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            whole = [str(p) for p in _as_list(statement["NotAction"]) if str(p) == "*" or str(p).endswith(":*")]
            found |= set(SERVICES) - _namespaces(whole)
        else:
            found |= _namespaces([str(pattern) for pattern in _as_list(statement.get("Action"))])
    return found


def _grants(backend: IAMBackend, arn: str) -> dict[str, list[_Grant]]:
    """Each allowed service's namespace → the policies that allow it, in the policies' order."""
    grants: dict[str, list[_Grant]] = {}
    for policy in _policies(backend, arn):
        for namespace in sorted(allowed_namespaces(policy.document)):
            grants.setdefault(namespace, []).append(policy.grant)
    return grants


def generate(self: IamResponse) -> ActionResult:
    granularity = self._get_param("Granularity") or "SERVICE_LEVEL"
    services = [
        {
            "ServiceName": SERVICES.get(namespace, namespace),
            "ServiceNamespace": namespace,
            "TotalAuthenticatedEntities": 0,
        }
        for namespace in sorted(_grants(self.backend, self._get_param("Arn")))
    ]
    jobs = _jobs(self.backend)
    while len(jobs) >= MAX_JOBS:
        jobs.pop(next(iter(jobs)))
    job_id = str(uuid.uuid4())
    jobs[job_id] = {"JobType": granularity, "JobCreationDate": utcnow(), "Services": services}
    return ActionResult({"JobId": job_id})


def get(self: IamResponse) -> ActionResult:
    job_id = self._get_param("JobId")
    job = _jobs(self.backend).get(job_id)
    if job is None:
        raise NoSuchEntity(f"No such job: {job_id}")
    start = int(self._get_param("Marker") or 0)
    end = start + int(self._get_param("MaxItems") or PAGE_SIZE)
    result: dict[str, Any] = {
        "JobStatus": "COMPLETED",
        "JobType": job["JobType"],
        "JobCreationDate": job["JobCreationDate"],
        "JobCompletionDate": job["JobCreationDate"],
        "ServicesLastAccessed": job["Services"][start:end],
        "IsTruncated": end < len(job["Services"]),
    }
    if result["IsTruncated"]:
        result["Marker"] = str(end)
    return ActionResult(result)


def list_policies_granting(self: IamResponse) -> ActionResult:
    grants = _grants(self.backend, self._get_param("Arn"))
    namespaces = _as_list(self._get_param("ServiceNamespaces"))
    found = [{"ServiceNamespace": namespace, "Policies": grants.get(namespace, [])} for namespace in namespaces]
    return ActionResult({"PoliciesGrantingServiceAccess": found, "IsTruncated": False})


def install() -> None:
    # Patching moto's classes in place is this module's purpose: mypy cannot see the actions
    # added (attr-defined).
    IamResponse.generate_service_last_accessed_details = generate  # type: ignore[attr-defined]
    IamResponse.get_service_last_accessed_details = get  # type: ignore[attr-defined]
    IamResponse.list_policies_granting_service_access = list_policies_granting  # type: ignore[attr-defined]
