"""The sign-in form."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


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
