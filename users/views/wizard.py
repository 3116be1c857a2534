"""The Add user wizard: Set user details → Set permissions → Add tags → Review → create.

Built on django-formtools' SessionWizardView, which gives the step machinery the AWS
console has (per-step validation, Previous/Next, everything re-validated before `done()`)
with its state in the server-side session. Two repairs the library needs here:
- the custom password never sits in the session in clear: `process_step` replaces it
  with a sealed (encrypted, expiring) token before formtools stores the step data;
- Previous keeps what was typed on the current step (AWS behaviour), where formtools
  would drop it.
Creation itself is a job (users/jobs.py): `done()` plans, starts the job and redirects to
its progress page, which moves on to the credentials once the users exist.
User names are checked against the cached users index at step 1, and against IAM itself (one
GetUser per name) when Review is shown and at Create: a name taken since sends the admin back
to step 1 with the error next to its field.
Review also offers its plan as Terraform (users/plans/terraform.py): the same view, as
`as_view(terraform_download=True)` at users/create/iam-users.tf, answers a GET with the file
and leaves the wizard at Review (a plain GET would start it afresh).
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import suppress
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from formtools.wizard.views import SessionWizardView

from iamconsole import cache_outage
from users import credentials, jobs
from users.forms.groups import NEW_GROUP_PREFIX, NewGroupForm
from users.forms.wizard import ACCESS_CONSOLE, ACCESS_PROGRAMMATIC, DetailsForm, PermissionsForm, ReviewForm, TagFormSet
from users.iam.gateway import IamGateway
from users.iam.types import PasswordPolicy, Policy
from users.models import Job
from users.plans import terraform
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, UserPlan, copy_permissions, needs_change_password_policy
from users.views.shortcuts import create_group_from_dialog, make_attachment, operator_for, queue_unavailable

STEPS = [
    ("details", DetailsForm),
    ("permissions", PermissionsForm),
    ("tags", TagFormSet),
    ("review", ReviewForm),
]
SUBMISSION_SECONDS = 60  # how long a repeated Create of the same wizard data is recognised
SUBMISSION_WAIT_SECONDS = 5  # how long the repeat waits for the first request's job

STEP_TITLES = {
    "details": "Set user details",
    "permissions": "Set permissions",
    "tags": "Add tags (optional)",
    "review": "Review",
}


def build_plans(
    details: dict[str, Any],
    permissions: dict[str, Any],
    tags: tuple[tuple[str, str], ...],
    password_policy: PasswordPolicy,
) -> list[UserPlan]:
    """One plan per user name; every user of a pass shares the same settings."""
    console = ACCESS_CONSOLE in details["access_type"]
    reset = console and details["require_password_reset"]
    copied = permissions["copied"]
    boundary = permissions["boundary_policy"] or (copied.permissions_boundary if copied else None)
    return [
        UserPlan(
            user_name=name,
            console_access=console,
            custom_password=console and details["console_password"] == "custom",
            password_reset_required=reset,
            programmatic_access=ACCESS_PROGRAMMATIC in details["access_type"],
            attach_change_password=needs_change_password_policy(
                console_access=console, reset_required=reset, policy=password_policy
            ),
            groups=tuple(copied.groups if copied else permissions["groups"]),
            policy_arns=tuple(copied.policy_arns if copied else permissions["policies"]),
            inline_policies=tuple(copied.inline_policies) if copied else (),
            permissions_boundary=boundary,
            tags=tags,
        )
        for name in details["user_names"]
    ]


class AddUserWizard(SessionWizardView):  # type: ignore[misc]  # formtools has no type information
    form_list = STEPS
    request: HttpRequest
    # as_view(terraform_download=True): a GET answers the Review's plan as a Terraform file
    # instead of starting the wizard afresh.
    terraform_download = False

    def get_template_names(self) -> list[str]:
        return [f"users/wizard/{self.steps.current}.html"]

    @cached_property
    def gateway(self) -> IamGateway:
        return IamGateway.from_settings(operator=operator_for(self.request))

    @cached_property
    def password_policy(self) -> PasswordPolicy:
        return self.gateway.get_password_policy()

    @cached_property
    def attachable_policies(self) -> list[Policy]:
        """Read from the cache once per request: step 2's form and its Create group dialog
        both offer them."""
        return self.gateway.attachable_policy_index()

    def _change_password_slot(self) -> bool:
        details = self.get_cleaned_data_for_step("details")
        if not details:
            return False
        console = ACCESS_CONSOLE in details["access_type"]
        return needs_change_password_policy(
            console_access=console,
            reset_required=console and details["require_password_reset"],
            policy=self.password_policy,
        )

    @cached_property
    def _in_iam(self) -> dict[str, bool]:
        """This request's answers of IAM itself, by user name (`_user_in_iam`)."""
        return {}

    def _user_in_iam(self, name: str) -> bool:
        """Whether IAM has this user now: one GetUser, uncached, once per name and request."""
        if name not in self._in_iam:
            self._in_iam[name] = self.gateway.user_exists(name)
        return self._in_iam[name]

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        if step == "details":
            names = [user.name for user in self.gateway.user_index()]
            # Step 1 checks the names against the cached index; Review and Create against IAM
            # itself, for a user made elsewhere since the index was read.
            in_iam = self._user_in_iam if self.steps.current == "review" else None
            return {"existing_names": names, "password_policy": self.password_policy, "in_iam": in_iam}
        if step == "permissions":
            return {
                "groups": self.gateway.group_index(),
                "users": self.gateway.user_index(),
                "policies": self.attachable_policies,
                "change_password_slot": self._change_password_slot(),
                "copy_permissions": lambda source: copy_permissions(self.gateway, source),
            }
        return {}

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.terraform_download:
            return self._terraform_file()
        response: HttpResponse = super().get(request, *args, **kwargs)
        return response

    def _terraform_file(self) -> HttpResponse:
        """The plan shown at Review as iam-users.tf. Not at Review: 404; a user name taken since
        sends the admin back to step 1, as Review does."""
        if self.steps.current != "review":
            raise Http404("There is no plan to download: go through the wizard to its Review step.")
        plans = self._review_context().get("plans")
        if not plans:
            failure: HttpResponse = self.render(self.get_form())
            return failure
        response = HttpResponse(_terraform(plans), content_type=terraform.CONTENT_TYPE)
        make_attachment(response, terraform.FILE_NAME)
        return response

    def process_step(self, form: Any) -> QueryDict:
        """Keep step data as formtools does, but with a custom password sealed."""
        data: QueryDict = super().process_step(form)
        if self.steps.current == "details" and form.cleaned_data.get("password"):
            data = data.copy()
            data[form.add_prefix("custom_password")] = ""
            data[form.add_prefix("sealed_password")] = credentials.seal(form.cleaned_data["password"])
        return data

    def render_goto_step(self, goto_step: str, **kwargs: Any) -> HttpResponse:
        """Previous (or a step link on Review) keeps what is valid on the current step."""
        form = self.get_form(data=self.request.POST, files=self.request.FILES)
        if form.is_valid():
            self.storage.set_step_data(self.steps.current, self.process_step(form))
        response: HttpResponse = super().render_goto_step(goto_step, **kwargs)
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.steps.current == "permissions" and "create_group" in request.POST:
            return self._create_group()
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def _create_group(self) -> HttpResponse:
        """The Create group dialog: create it in IAM, then show step 2 again with the new
        group selected and everything else as it was."""
        new_group, created = create_group_from_dialog(self.request, self.gateway)
        selected = self.request.POST.getlist(self.get_form_prefix() + "-groups")
        if created:
            selected.append(created)
        form = self.get_form(data=self._permissions_data(selected))
        response: HttpResponse = self.render(form, new_group=new_group)
        return response

    def _permissions_data(self, selected_groups: list[str]) -> QueryDict:
        data = self.request.POST.copy()
        data.setlist(self.get_form_prefix() + "-groups", selected_groups)
        data[self.get_form_prefix() + "-option"] = "group"
        return data

    def render(self, form: Any = None, **kwargs: Any) -> HttpResponse:
        """Review shows only user names IAM does not have: one taken since step 1 sends the
        admin back there, with the error next to its field."""
        if self.steps.current == "review":
            details = self.get_form("details", data=self.storage.get_step_data("details"))
            if not details.is_valid():
                failure: HttpResponse = self.render_revalidation_failure("details", details)
                return failure
        response: HttpResponse = super().render(form, **kwargs)
        return response

    def render_done(self, form: Any, **kwargs: Any) -> HttpResponse:
        """A repeated Create goes to the first one's job before the names are checked again:
        that job may have created them by now."""
        submission = self._submission_key()
        try:
            if cache.get(submission) is not None:
                return self._already_submitted(submission)
        except cache_outage.UNAVAILABLE as error:  # the lock is in Redis, with the queue: nothing done
            cache_outage.record_outage(error)
            return queue_unavailable(self.request)
        response: HttpResponse = super().render_done(form, **kwargs)
        return response

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(form=form, **kwargs)
        context["step_titles"] = STEP_TITLES
        if self.steps.current == "details":
            context["password_requirements"] = form.password_requirements
        if self.steps.current == "permissions":
            context.setdefault(
                "new_group",
                NewGroupForm(prefix=NEW_GROUP_PREFIX, existing_groups=(), policies=self.attachable_policies),
            )
            context["change_password_arn"] = CHANGE_PASSWORD_POLICY_ARN
        if self.steps.current == "review":
            context.update(self._review_context())
        return context

    def _review_context(self) -> dict[str, Any]:
        details = self.get_cleaned_data_for_step("details")
        permissions = self.get_cleaned_data_for_step("permissions")
        tags = self.get_form("tags", data=self.storage.get_step_data("tags"))
        if not (details and permissions and tags.is_valid()):
            return {}
        plans = build_plans(details, permissions, tags.tags, self.password_policy)
        policy_types = {policy.arn: policy for policy in self.gateway.policy_index()}
        return {
            "details": details,
            "plans": plans,
            "plan": plans[0],
            "policy_types": policy_types,
            "summary": _permissions_summary(plans[0], policy_types),
            "cli": [command for plan in plans for command in plan.cli_commands()],
            "terraform": _terraform(plans),
        }

    def done(self, form_list: Any, form_dict: dict[str, Any], **kwargs: Any) -> HttpResponse:
        # A double-clicked Create sends the same wizard data twice, before either request has
        # reset it: only the first starts a job, the second goes to that job's page.
        submission = self._submission_key()
        try:
            if not cache.add(submission, "", SUBMISSION_SECONDS):
                return self._already_submitted(submission)
        except cache_outage.UNAVAILABLE as error:  # the lock is in Redis, with the queue: nothing done
            cache_outage.record_outage(error)
            return queue_unavailable(self.request)
        details = form_dict["details"].cleaned_data
        plans = build_plans(
            details, form_dict["permissions"].cleaned_data, form_dict["tags"].tags, self.password_policy
        )
        try:
            job = jobs.start_job(
                operator=operator_for(self.request),
                source=Job.Source.WIZARD,
                plans=plans,
                custom_password=details.get("password") if details["console_password"] == "custom" else None,
                session=self.request.session,
            )
        except jobs.JobQueueUnavailable:
            with suppress(*cache_outage.UNAVAILABLE):
                cache.delete(submission)
            return queue_unavailable(self.request)
        # The job is started: a lock Redis lost meanwhile only makes a second click wait and say so.
        with suppress(*cache_outage.UNAVAILABLE):
            cache.set(submission, str(job.id), SUBMISSION_SECONDS)
        return redirect("users:job_detail", job_id=job.id)

    def _submission_key(self) -> str:
        data = json.dumps(self.storage.data, sort_keys=True, default=str)
        return "add-user:" + hashlib.sha256(f"{self.request.session.session_key}:{data}".encode()).hexdigest()

    def _already_submitted(self, submission: str) -> HttpResponse:
        deadline = time.monotonic() + SUBMISSION_WAIT_SECONDS
        while not (job_id := cache.get(submission)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if job_id and (job := Job.objects.filter(pk=job_id, operator=operator_for(self.request)).first()):
            # Both requests save the session; bind here too so that neither save loses it.
            jobs.bind_to_session(self.request.session, job)
            return redirect("users:job_detail", job_id=job.id)
        messages.info(self.request, "These users are already being created.")
        return redirect("users:list")


def _terraform(plans: list[UserPlan]) -> str:
    return terraform.render(plans, source="at the Review of the Add user wizard")


def _permissions_summary(plan: UserPlan, policies: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The Review page's "Permissions summary": (Name, Type, Used as) rows."""
    rows = [(group, "Group", "Permissions group") for group in plan.groups]
    arns = ([CHANGE_PASSWORD_POLICY_ARN] if plan.attach_change_password else []) + list(plan.policy_arns)
    for arn in arns:
        policy = policies.get(arn)
        name = policy.name if policy else arn.rsplit("/", 1)[-1]
        rows.append((name, policy.policy_type if policy else "Managed policy", "Permissions policy"))
    rows += [(name, "Customer inline", "Permissions policy") for name, _ in plan.inline_policies]
    if plan.permissions_boundary:
        policy = policies.get(plan.permissions_boundary)
        name = policy.name if policy else plan.permissions_boundary.rsplit("/", 1)[-1]
        rows.append((name, policy.policy_type if policy else "Managed policy", "Permissions boundary"))
    return rows
