"""Starting a job that deactivates access keys (the web side): one job item per user, its
plan a `keys.KeyPlan`, run by the same workers, sweeper, progress page, Retry and Cancel as
the jobs that create users (users/jobs.py, users/tasks.py). It holds no secret, so it has no
credentials page and is bound to no session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from users import jobs, tasks
from users.hygiene.keys import plans_for
from users.iam.errors import ReadOnlyConsole
from users.iam.gateway import IamGateway
from users.models import Job, JobItem

# Keys one Deactivate may take: one page of the hygiene report holds at most this many.
MAX_KEYS = 200


def start_deactivation(*, operator: User, selection: Mapping[str, Sequence[str]]) -> Job:
    """A job deactivating the selected keys ({user name: [key ids]}), queued once the
    transaction commits. Raises `ReadOnlyConsole` when IAM_READ_ONLY (no job is made),
    `jobs.JobQueueUnavailable` with nothing made when the broker does not answer, `IamError`
    when IAM cannot tell the account, `ValueError` for an empty selection."""
    if settings.IAM_READ_ONLY:
        raise ReadOnlyConsole("UpdateAccessKey")
    plans = plans_for(selection)
    if not plans:
        raise ValueError("a job needs at least one key")
    account = IamGateway.from_settings(operator=operator).cached_account_info()
    jobs.check_queue()
    with transaction.atomic():
        job = Job.objects.create(
            operator=operator, source=Job.Source.KEYS, account_id=account.account_id, sign_in_url=account.sign_in_url
        )
        JobItem.objects.bulk_create(
            JobItem(job=job, position=position, user_name=plan.user_name, plan=plan.to_json())
            for position, plan in enumerate(plans)
        )
        item_ids = list(job.items.values_list("id", flat=True))
        transaction.on_commit(lambda: tasks.enqueue(item_ids))
    jobs.expect_notice(operator.pk)
    return job
