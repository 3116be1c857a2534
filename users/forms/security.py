"""Forms of the Security credentials tab: the Create access key wizard, console access, SSH
public keys. Every rule an operator can break is checked here, next to its field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from users.forms.fields import custom_password_field, password_choice_field
from users.iam.types import LoginProfile, PasswordPolicy
from users.ssh_keys import validate_ssh_public_key
from users.validators import MAX_TAGS, password_problems, password_requirements, validate_tag_value

# The Create access key wizard's use cases, with the console's descriptions (FEATURES.md §4F).
USE_CASES = (
    ("cli", "Command Line Interface (CLI)",
     "You plan to use this access key to enable the AWS CLI to access your AWS account."),
    ("local_code", "Local code",
     "You plan to use this access key to enable application code in a local development environment to access "
     "your AWS account."),
    ("aws_compute", "Application running on an AWS compute service",
     "You plan to use this access key to enable application code running on an AWS compute service like Amazon "
     "EC2, Amazon ECS, or AWS Lambda to access your AWS account."),
    ("third_party", "Third-party service",
     "You plan to use this access key to enable access for a third-party application or service that monitors "
     "or manages your AWS resources."),
    ("outside_aws", "Application running outside AWS",
     "You plan to use this access key to authenticate workloads running in your data center or other "
     "infrastructure outside of AWS that needs to access your AWS resources."),
    ("other", "Other", "Your use case is not listed here."),
)  # fmt: skip


CONFIRM_LABEL = "I understand the above recommendation and want to proceed to create an access key."


TAG_LIMIT_MESSAGE = (
    f"This user already has {MAX_TAGS} tags, the most IAM allows: remove a tag on the Tags tab to "
    "add a description, or leave it empty."
)


class AccessKeyUseCaseForm(forms.Form):
    """Step 1 — Access key best practices & alternatives."""

    use_case = forms.ChoiceField(
        label="Use case",
        widget=forms.RadioSelect,
        choices=[(value, label) for value, label, _ in USE_CASES],
        error_messages={"required": "Choose a use case."},
    )
    confirm = forms.BooleanField(
        label=CONFIRM_LABEL,
        error_messages={"required": "Confirm that you understand the recommendation to continue."},
    )


class AccessKeyDescriptionForm(forms.Form):
    """Step 2 — Set description tag (optional): a user tag keyed by the new key's id."""

    description = forms.CharField(
        label="Description tag value",
        required=False,
        strip=True,
        validators=[validate_tag_value],
        help_text=(
            "Describe the purpose of this access key and where it will be used. Maximum 256 characters. "
            "Allowed characters are letters, numbers, spaces representable in UTF-8, and: _ . : / = + - @"
        ),
    )

    def __init__(self, *args: Any, tag_count: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag_count = tag_count

    def clean_description(self) -> str:
        description: str = self.cleaned_data["description"]
        if description and self.tag_count >= MAX_TAGS:
            raise ValidationError(TAG_LIMIT_MESSAGE, code="tag_limit")
        return description


KEEP_PASSWORD = ("keep", "Keep the existing password")


class ConsoleAccessForm(forms.Form):
    """Enable or manage console access: the password, and whether it must be reset. A user who
    has a password keeps it unless another is asked for, as in the AWS console: Apply with the
    form as it comes changes nothing."""

    console_access = forms.ChoiceField(
        label="Console access",
        widget=forms.RadioSelect,
        choices=[("enable", "Enable"), ("disable", "Disable")],
        initial="enable",
    )
    password_type = password_choice_field("Set password")
    custom_password = custom_password_field()
    reset_required = forms.BooleanField(
        label="User must create a new password at next sign-in",
        required=False,
        initial=True,
        help_text=(
            "Users automatically get the IAMUserChangePassword policy to allow them to change their own password."
        ),
    )

    def __init__(
        self, *args: Any, password_policy: PasswordPolicy, login_profile: LoginProfile | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.password_policy = password_policy
        self.password_requirements = password_requirements(password_policy)
        self.enabled = login_profile is not None
        if login_profile is None:  # nothing to disable, nothing to keep
            cast(forms.ChoiceField, self.fields["console_access"]).choices = [("enable", "Enable")]
            return
        password_type = cast(forms.ChoiceField, self.fields["password_type"])
        password_type.choices = [KEEP_PASSWORD, *cast("list[tuple[str, str]]", password_type.choices)]
        password_type.initial = KEEP_PASSWORD[0]
        self.fields["reset_required"].initial = login_profile.password_reset_required

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean() returns cleaned_data
        if data.get("console_access") != "enable":
            return data
        data["password_type"] = data.get("password_type") or ("keep" if self.enabled else "autogenerated")
        if data["password_type"] != "custom":
            return data
        password = data.get("custom_password") or ""
        problems = password_problems(password, self.password_policy) if password else ["Enter a custom password."]
        for problem in problems:
            self.add_error("custom_password", problem)
        return data


class SshPublicKeyForm(forms.Form):
    """Upload SSH public key: the key body, checked before IAM sees it (never echoed back)."""

    body = forms.CharField(
        label="SSH public key",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace", "spellcheck": "false"}),
        help_text="Paste the public key (ssh-rsa … or PEM), 2,048 to 16,384 bits. Never paste a private key.",
    )

    def clean_body(self) -> str:
        try:
            return validate_ssh_public_key(self.cleaned_data["body"])
        except ValidationError:
            # Never render what was pasted back into the page: it may be a private key.
            # request.POST, or a plain dict: either copies to a mutable mapping.
            data = cast("QueryDict | dict[str, Any]", self.data).copy()
            data["body"] = ""
            self.data = data
            raise
