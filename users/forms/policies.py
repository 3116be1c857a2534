"""The Policies list's search: the groups list's search plus a policy type."""

from __future__ import annotations

from django import forms

from users.forms.groups import ListSearchForm
from users.forms.policy_picker import POLICY_TYPES


class PolicySearchForm(ListSearchForm):
    type = forms.ChoiceField(required=False, choices=[("", "All types"), *((t, t) for t in POLICY_TYPES)])
