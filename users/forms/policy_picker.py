"""The managed-policy pickers of wizard step 2, Add permissions and the group pages.

About 1,223 policies can be attached: a page renders only the first page of them and the
selected ones (`PolicyPicker`, templates/includes/policy_picker.html); searching by name,
filtering by Type and paging fetch the rest from the search endpoint (users:policy_search),
which answers from the gateway's cached policy index (`search_policies`). Selected policies
off the page stay in the form as hidden inputs (static/js/policy_picker.js)."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django import forms

from users.iam.types import Policy
from users.validators import POLICY_ARN_RE

PAGE_SIZE = 25
POLICY_TYPES = ("AWS managed", "AWS managed - job function", "Customer managed")
MAX_EXCLUDED = 50  # what a picker leaves out: the policies a user or group has (IAM allows 20 at most)


@dataclass(frozen=True, slots=True)
class PolicyPage:
    """One page of the policies a search matched, by name."""

    rows: list[Policy]
    count: int  # all the matches
    number: int
    pages: int

    def as_json(self) -> dict[str, Any]:
        rows = [
            {"arn": p.arn, "name": p.name, "type": p.policy_type, "attachments": p.attachment_count} for p in self.rows
        ]
        return {"count": self.count, "page": self.number, "pages": self.pages, "rows": rows}


def search_policies(
    policies: Iterable[Policy], *, query: str = "", kind: str = "", page: int = 1, exclude: Collection[str] = ()
) -> PolicyPage:
    """Page `page` (the last one if there are fewer) of the policies whose name holds `query`
    (case-insensitive) and whose Type is `kind` (any if empty), but those in `exclude`."""
    needle, left_out = query.casefold(), set(exclude)
    matches = sorted(
        (
            policy
            for policy in policies
            if needle in policy.name.casefold()
            and (not kind or policy.policy_type == kind)
            and policy.arn not in left_out
        ),
        key=lambda policy: policy.name.casefold(),
    )
    pages = max(1, math.ceil(len(matches) / PAGE_SIZE))
    number = min(page, pages)
    return PolicyPage(matches[(number - 1) * PAGE_SIZE : number * PAGE_SIZE], len(matches), number, pages)


class _OfferedPolicies:
    """A choice of managed policies by ARN, checked against the set `offer` gives: Django's
    `choices` would build and scan 1,223 pairs on every form, a few milliseconds each time."""

    offered: frozenset[str] = frozenset()

    def offer(self, policies: Iterable[Policy]) -> None:
        self.offered = frozenset(policy.arn for policy in policies)

    def valid_value(self, value: str) -> bool:
        return str(value) in self.offered


class PolicyField(_OfferedPolicies, forms.ChoiceField):
    """One of the offered policies (a picker of radio buttons)."""


class PoliciesField(_OfferedPolicies, forms.MultipleChoiceField):
    """Some of the offered policies (a picker of checkboxes)."""


class _ArnList(forms.Field):
    """Repeated `name=arn` parameters: at most MAX_EXCLUDED managed policy ARNs."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        return [str(item) for item in value or ()]

    def validate(self, value: Any) -> None:
        if len(value) > MAX_EXCLUDED or not all(POLICY_ARN_RE.fullmatch(arn) for arn in value):
            raise forms.ValidationError(f"Up to {MAX_EXCLUDED} managed policy ARNs.")


class PickerSearchForm(forms.Form):
    """The search endpoint's parameters: `q`, `type`, `page` and the ARNs to `exclude`."""

    q = forms.CharField(required=False, max_length=128)
    type = forms.ChoiceField(required=False, choices=[("", "All types"), *((t, t) for t in POLICY_TYPES)])
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    exclude = _ArnList(required=False)

    def search(self, policies: Iterable[Policy]) -> PolicyPage:
        data = self.cleaned_data
        return search_policies(
            policies, query=data["q"], kind=data["type"], page=data["page"] or 1, exclude=data["exclude"]
        )


class PolicyPicker:
    """What a page renders of a picker for `field` (a form field of policy ARNs, one or many)
    offering `offered`, which is the policy index but `exclude`: the first page of
    `offered`, and the selected policies (those off that page are `kept`, as hidden inputs)."""

    types = POLICY_TYPES

    def __init__(self, field: forms.BoundField, offered: list[Policy], *, exclude: Collection[str] = ()) -> None:
        self.field, self.offered, self.exclude = field, offered, sorted(exclude)
        self.first = search_policies(offered)

    @property
    def name(self) -> str:
        return self.field.html_name

    @property
    def id(self) -> str:
        return self.field.auto_id or self.field.html_name

    @property
    def multiple(self) -> bool:
        return isinstance(self.field.field, forms.MultipleChoiceField)

    @cached_property
    def selected(self) -> list[Policy]:
        """The chosen policies that are offered, in the order chosen (a junk value is not shown:
        the form's error says so)."""
        value = self.field.value()
        arns = [value] if isinstance(value, str) else list(value or ())
        by_arn = {policy.arn: policy for policy in self.offered}
        return [by_arn[arn] for arn in dict.fromkeys(arns) if arn in by_arn]

    @cached_property
    def selected_arns(self) -> set[str]:
        return {policy.arn for policy in self.selected}

    @property
    def kept(self) -> list[Policy]:
        shown = {policy.arn for policy in self.first.rows}
        return [policy for policy in self.selected if policy.arn not in shown]

    @property
    def query(self) -> str:
        """The search endpoint's fixed parameters."""
        return urlencode([("exclude", arn) for arn in self.exclude])
