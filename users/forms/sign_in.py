"""The sign-in form."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from users.oidc.provider import local_sign_in


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with the user name's length enforced as a field error.

    AuthenticationForm sets the field's `max_length` after the field is built, which only sizes
    the input: a longer name went on to authenticate(), and django-axes' failure record (a
    255-character column) then failed on PostgreSQL. No such name can exist, so it is refused
    before any password check or lockout count."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.CharField, self.fields["username"])
        if field.max_length is not None:
            field.validators.append(MaxLengthValidator(field.max_length))

    def clean(self) -> dict[str, Any]:
        # LOCAL_SIGN_IN=false: the form is not shown, and a password sent anyway is refused
        # before any check (users/oidc/backend.py refuses it too, for the admin's sign-in).
        if not local_sign_in():
            raise ValidationError(
                f"Signing in with a password is turned off: use Sign in with {settings.OIDC_PROVIDER_NAME}.",
                code="local_sign_in_off",
            )
        cleaned: dict[str, Any] = super().clean()
        return cleaned
