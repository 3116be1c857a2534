"""The users list and the user summary page (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from users.gateway import CALLS

pytestmark = pytest.mark.django_db


def test_it_shows_the_count_and_rows_of_users(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("trillian", path="/crew/")
    for group in ("Zeta", "alpha", "Beta"):
        iam.create_group(group)
        iam.add_user_to_group(group, "arthur")
    key = iam.create_access_key("trillian")

    response = operator_client.get(reverse("users:list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "IAM users <span class=\"count\">(2)</span>" in html
    assert "alpha, Beta + 1 more" in html
    assert f"{key.access_key_id} (Active)" in html
    assert "/crew/" in html


def test_it_searches_by_name_case_insensitively(iam, operator_client) -> None:
    for name in ("arthur", "ARTEMIS", "ford"):
        iam.create_user(name)

    rows = operator_client.get(reverse("users:list"), {"q": "art"}).context["rows"]

    assert sorted(user.name for user, _ in rows) == ["ARTEMIS", "arthur"]


def test_it_finds_the_owner_of_an_access_key(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("ford")
    key = iam.create_access_key("ford")

    rows = operator_client.get(reverse("users:list"), {"q": key.access_key_id}).context["rows"]

    assert [user.name for user, _ in rows] == ["ford"]


def test_it_says_when_nothing_matches(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = operator_client.get(reverse("users:list"), {"q": "AKIAZZZZZZZZZZZZZZZZ"})
    assert "No users match" in response.content.decode()


def test_it_paginates_on_the_server(iam, operator_client) -> None:
    for i in range(30):
        iam.create_user(f"user{i:02d}")

    first = operator_client.get(reverse("users:list"), {"per_page": 10})
    third = operator_client.get(reverse("users:list"), {"per_page": 10, "page": 3})

    assert [u.name for u, _ in first.context["rows"]] == [f"user{i:02d}" for i in range(10)]
    assert [u.name for u, _ in third.context["rows"]] == [f"user{i:02d}" for i in range(20, 30)]
    assert 'href="?q=&per_page=10&page=2"' in first.content.decode()


def test_it_makes_a_bounded_number_of_iam_calls_however_many_users(iam, operator_client) -> None:
    for i in range(120):
        iam.create_user(f"user{i:03d}")
    operator_client.get(reverse("users:list"))  # warms the cached account info

    with CALLS.measure() as calls:
        operator_client.get(reverse("users:list"), {"per_page": 25})

    # One index call (paginated) plus one ListAccessKeys per user shown, whatever the total.
    assert calls.by_operation["ListAccessKeys"] == 25
    assert calls.total - calls.by_operation["ListAccessKeys"] <= 3


@pytest.mark.parametrize("bad", [{"per_page": "1000"}, {"page": "-1"}, {"page": "x"}, {"q": "x" * 500}])
def test_it_never_fails_on_odd_query_strings(iam, operator_client, bad) -> None:
    iam.create_user("arthur")
    assert operator_client.get(reverse("users:list"), bad).status_code == 200


@pytest.mark.parametrize("name", ["arthur", "a+b@c.d=,e-", "=cmd", "Name_With.Dots"])
def test_it_links_each_user_to_its_summary_even_with_odd_names(iam, operator_client, name) -> None:
    iam.create_user(name)
    iam.create_login_profile(name, "Initial-Passw0rd!", reset_required=True)

    list_html = operator_client.get(reverse("users:list")).content.decode()
    url = reverse("users:detail", args=[name])
    response = operator_client.get(url)

    assert f'href="{url}"' in list_html
    assert response.status_code == 200
    assert f"arn:aws:iam::123456789012:user/{name}" in response.content.decode()
    assert "Enabled (password reset required)" in response.content.decode()


def test_it_answers_404_for_an_unknown_user(iam, operator_client) -> None:
    assert operator_client.get(reverse("users:detail", args=["nobody"])).status_code == 404


def test_it_reads_the_users_index_once_until_the_console_changes_iam(iam, operator_client) -> None:
    iam.create_user("arthur")
    operator_client.get(reverse("users:list"))

    with CALLS.measure() as cached:
        operator_client.get(reverse("users:list"), {"page": "1"})
    iam.create_user("ford")  # a change through the console: a new index
    with CALLS.measure() as after_change:
        response = operator_client.get(reverse("users:list"))

    assert cached.by_operation["GetAccountAuthorizationDetails"] == 0
    assert after_change.by_operation["GetAccountAuthorizationDetails"] == 1
    assert response.context["total"] == 2


def test_it_reads_iam_again_on_refresh(iam, operator_client) -> None:
    operator_client.get(reverse("users:list"))
    with CALLS.measure() as calls:
        operator_client.get(reverse("users:list"), {"refresh": "1"})
    assert calls.by_operation["GetAccountAuthorizationDetails"] == 1
