"""Delete on the users list: the confirmation, the deletion and its result page (unit: Django
test client, moto's mock_aws). The cascade itself is tested in tests/test_deletion.py."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.faults import inject
from users.forms.users import MAX_USERS_PER_DELETE
from users.iam.errors import NoSuchEntity
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = reverse("users:delete")


def _exists(iam, name: str) -> bool:
    try:
        iam.get_user(name)
    except NoSuchEntity:
        return False
    return True


def test_it_asks_for_the_user_name_to_delete_one_user(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = operator_client.get(URL, {"user": "arthur"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Delete arthur?" in html
    assert "To confirm deletion, enter the user name in the text input field." in html
    assert 'placeholder="arthur"' in html
    assert '<input type="hidden" name="user" value="arthur">' in html
    assert _exists(iam, "arthur")


def test_it_asks_for_delete_to_delete_several(iam, operator_client) -> None:
    response = operator_client.get(URL, {"user": ["arthur", "ford"]})
    html = response.content.decode()
    assert "Delete 2 users?" in html
    assert "To confirm deletion, enter delete in the text input field." in html


def test_a_wrong_confirmation_is_shown_next_to_the_field_and_deletes_nothing(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_access_key("arthur")
    response = operator_client.post(URL, {"user": "arthur", "confirmation": "delete"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="error_1_id_confirmation"[^>]*>\s*<strong>Enter arthur to confirm\.</strong>', html)
    assert _exists(iam, "arthur") and len(iam.list_access_keys("arthur")) == 1
    assert not AuditEvent.objects.filter(action__startswith="Delete").exists()


def test_it_deletes_the_users_and_shows_each_step(iam, operator_client) -> None:
    iam.create_group("devs")
    for name in ("arthur", "ford"):
        iam.create_user(name)
        iam.add_user_to_group("devs", name)
    key = iam.create_access_key("arthur")
    iam.user_index()  # cached, as the list page leaves it

    response = operator_client.post(URL, {"user": ["arthur", "ford"], "confirmation": "delete"})

    assert response.status_code == 200
    html = response.content.decode()
    assert not _exists(iam, "arthur") and not _exists(iam, "ford")
    assert html.count('data-deleted="yes"') == 2
    assert f"Access key {key.access_key_id}" in html and "Membership of group devs" in html
    assert "User arthur" in html and "User ford" in html
    assert [user.name for user in iam.user_index()] == []  # the cached list was replaced
    listed = operator_client.get(reverse("users:list")).content.decode()
    assert 'IAM users <span class="count">(0)</span>' in listed


def test_a_failed_step_says_what_was_done_and_what_was_not(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Passw0rd!Passw0rd", reset_required=False)
    iam.attach_user_policy("arthur", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    with inject(iam, "DetachUserPolicy", "AccessDenied", status=403, message="User is not authorized"):
        response = operator_client.post(URL, {"user": "arthur", "confirmation": "arthur"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-deleted="no"' in html and "Not deleted" in html
    assert re.search(r'data-step-status="done">.*Console password', html)
    assert re.search(
        r'data-step-status="failed">.*DetachUserPolicy: <strong>AccessDenied</strong> User is not authorized', html
    )
    assert "nothing after it was done, and the user still exists" in html
    assert _exists(iam, "arthur") and iam.get_login_profile("arthur") is None


def test_an_already_deleted_user_is_reported_as_such(iam, operator_client) -> None:
    response = operator_client.post(URL, {"user": "ghost", "confirmation": "ghost"})
    assert response.status_code == 200
    assert "Already deleted" in response.content.decode()


def test_no_selection_goes_back_to_the_list_with_a_message(iam, operator_client) -> None:
    response = operator_client.get(URL, follow=True)
    assert response.redirect_chain == [(reverse("users:list"), 302)]
    assert "Select one or more users to delete." in response.content.decode()


@pytest.mark.parametrize(
    "users",
    [["bad name!"], ["a" * 65], [f"user{n}" for n in range(MAX_USERS_PER_DELETE + 1)]],
    ids=["bad-character", "too-long", "too-many"],
)
def test_a_selection_no_page_can_send_is_refused(iam, operator_client, users) -> None:
    assert operator_client.get(URL, {"user": users}).status_code == 400
    assert operator_client.post(URL, {"user": users, "confirmation": "delete"}).status_code == 400


def test_a_viewer_may_not_delete(iam, viewer_client) -> None:
    iam.create_user("arthur")
    assert viewer_client.get(URL, {"user": "arthur"}).status_code == 403
    assert viewer_client.post(URL, {"user": "arthur", "confirmation": "arthur"}).status_code == 403
    assert _exists(iam, "arthur")


def test_the_list_and_the_details_page_offer_delete(iam, operator_client, viewer_client) -> None:
    iam.create_user("arthur")
    listed = operator_client.get(reverse("users:list")).content.decode()
    assert 'value="arthur" form="delete-users"' in listed and 'data-testid="delete-users"' in listed
    details = operator_client.get(reverse("users:detail", args=["arthur"])).content.decode()
    assert f'href="{URL}?user=arthur"' in details
    assert 'data-testid="delete-users"' not in viewer_client.get(reverse("users:list")).content.decode()
