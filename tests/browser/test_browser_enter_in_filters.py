"""Enter in a search or filter box, in a real browser: it filters (or does nothing) and never
submits the form around it (create, save, next). A box that is its own GET search form (the
lists, the audit filters) runs that search, and only that one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SETTLE_MS = 700  # long enough for a submission Enter started to reach the server


@contextmanager
def posts_sent(page: Page) -> Iterator[list[str]]:
    """The URLs the page POSTs to meanwhile."""
    posts: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    page.on("request", record)
    try:
        yield posts
    finally:
        page.remove_listener("request", record)


@contextmanager
def no_form_sent(page: Page) -> Iterator[None]:
    """Fails if the page sends a POST or goes to another page meanwhile."""
    url = page.url
    with posts_sent(page) as posts:
        yield
        page.wait_for_timeout(SETTLE_MS)
    assert posts == []
    assert page.url == url


def press_enter_in(page: Page, box: Locator, text: str) -> None:
    """Type into a box and press Enter: nothing may be sent."""
    with no_form_sent(page):
        box.fill(text)
        box.press("Enter")


def _arrange(gateway) -> None:
    gateway.create_user("arthur")
    gateway.create_user("ford")
    gateway.create_group("Developers")


def test_enter_in_the_wizard_step_2_boxes_neither_creates_a_group_nor_moves_on(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    _arrange(server_gateway)
    sign_in(page, console)
    page.goto(f"{console}/users/create/")
    page.get_by_label("User name*").fill("zaphod")
    page.get_by_label("Programmatic access").check()
    page.get_by_test_id("wizard-next").click()
    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()

    press_enter_in(page, page.get_by_label("Search groups"), "dev")
    page.get_by_label("Copy permissions from existing user").check()
    press_enter_in(page, page.get_by_label("Search users"), "ford")
    page.get_by_label("Attach existing policies directly").check()
    picker = page.get_by_test_id("policy-picker")
    press_enter_in(page, picker.get_by_label("Search policies"), "no such policy")
    expect(picker.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 0 policies")  # it searched
    page.get_by_text("Set permissions boundary").click()
    press_enter_in(page, page.get_by_label("Search boundary policies"), "securityaudit")

    # The defect: Enter in the dialog's policy search created the group at once, with no policies.
    page.get_by_label("Add user to group").check()
    page.get_by_role("button", name="Create group").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Group name").fill("Billers")
    press_enter_in(page, dialog.get_by_label("Search the new group's policies"), "billing")
    expect(dialog.locator("[data-picker-where]")).to_contain_text("Page 1 of 1 ·")
    expect(dialog).to_be_visible()
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]
    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()


def test_enter_in_the_add_permissions_boxes_neither_creates_a_group_nor_moves_on(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    _arrange(server_gateway)
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/permissions/add/")

    press_enter_in(page, page.get_by_label("Search groups"), "dev")
    page.get_by_label("Copy permissions").check()
    press_enter_in(page, page.get_by_label("Search users"), "ford")
    page.get_by_label("Attach policies directly").check()
    press_enter_in(page, page.get_by_test_id("policy-picker").get_by_label("Search policies"), "readonly")
    page.get_by_label("Add user to group").check()
    page.get_by_role("button", name="Create group").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Group name").fill("Billers")
    press_enter_in(page, dialog.get_by_label("Search the new group's policies"), "billing")
    expect(dialog).to_be_visible()
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]
    assert server_gateway.list_groups_for_user("arthur") == []


def test_enter_in_the_group_pages_boxes_changes_nothing(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    _arrange(server_gateway)
    sign_in(page, console)
    page.goto(f"{console}/groups/actions/create/")
    page.get_by_label("User group name").fill("Billers")
    press_enter_in(page, page.get_by_label("Search policies"), "billing")
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]

    page.goto(f"{console}/groups/Developers/permissions/add/")
    press_enter_in(page, page.get_by_label("Search policies"), "billing")
    assert server_gateway.list_attached_group_policies("Developers") == []

    page.goto(f"{console}/groups/Developers/users/add/")
    page.get_by_label("arthur", exact=True).check()
    press_enter_in(page, page.get_by_label("Filter users by name"), "ford")
    expect(page.get_by_label("arthur", exact=True)).to_be_hidden()  # it filtered
    assert server_gateway.get_group("Developers")[1] == []


def test_enter_in_the_boundary_search_sets_no_boundary(page: Page, console: str, live_operator, server_gateway) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/permissions/boundary/")
    picker = page.get_by_test_id("boundary-picker")
    picker.locator("tbody input[type=radio]").first.check()
    press_enter_in(page, picker.get_by_label("Search boundary policies"), "securityaudit")
    expect(picker.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 1 policy")
    assert server_gateway.get_user("arthur").permissions_boundary_arn is None


def _search_with_enter(page: Page, box: Locator, text: str) -> dict[str, list[str]]:
    """Enter in a GET search form's box: that search runs (no POST); its query."""
    box.fill(text)
    with posts_sent(page) as posts, page.expect_navigation():
        box.press("Enter")
    assert posts == []
    return parse_qs(urlsplit(page.url).query)


@pytest.mark.parametrize(
    "path, box, text",
    [
        ("/users/", "#id_q", "arthur"),
        ("/groups/", "#id_q", "dev"),
        ("/policies/", "#id_q", "readonly"),
        ("/users/details/arthur/", "#id_q", "admin"),
        ("/audit/", "#id_q", "CreateUser"),
        ("/audit/", "#id_operator", "alice"),
        ("/audit/", "#id_action", "CreateGroup"),
        ("/audit/", "#id_target", "arthur"),
    ],
)
def test_enter_in_a_search_form_runs_that_search_and_nothing_else(
    page: Page, console: str, live_operator, server_gateway, path, box, text
) -> None:
    _arrange(server_gateway)
    sign_in(page, console)
    page.goto(console + path)
    query = _search_with_enter(page, page.locator(box), text)
    assert query[box.removeprefix("#id_")] == [text]
    assert "refresh" not in query  # Enter is Search, not the form's Refresh button
    assert urlsplit(page.url).path == path
    assert [user.name for user in server_gateway.list_users()] == ["arthur", "ford"]


def _type_a_name_and_close_the_dialog(page: Page) -> None:
    page.get_by_role("button", name="Create group").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Group name").fill("Billers")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_enter_on_a_group_checkbox_moves_on_and_does_not_create_the_group_of_the_closed_dialog(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    _arrange(server_gateway)
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/permissions/add/")
    _type_a_name_and_close_the_dialog(page)
    page.get_by_label("Developers", exact=True).check()
    page.get_by_label("Developers", exact=True).press("Enter")  # Next, not the dialog's Create group
    expect(page.get_by_test_id("review-permissions")).to_contain_text("Developers")

    page.goto(f"{console}/users/create/")
    page.get_by_label("User name*").fill("zaphod")
    page.get_by_label("Programmatic access").check()
    page.get_by_label("User name*").press("Enter")
    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()
    _type_a_name_and_close_the_dialog(page)
    page.get_by_label("Developers", exact=True).check()
    page.get_by_label("Developers", exact=True).press("Enter")  # Next, not Create group nor Previous
    expect(page.get_by_role("heading", name="Add tags (optional)")).to_be_visible()
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]

    # In the dialog, Enter is the dialog's Create group.
    page.get_by_role("button", name="Previous").click()
    page.get_by_role("button", name="Create group").click()
    page.get_by_role("dialog").get_by_label("Group name").fill("Billers")
    page.get_by_role("dialog").get_by_label("Group name").press("Enter")
    expect(page.get_by_text("User group Billers created.")).to_be_visible()
    expect(page.get_by_label("Billers", exact=True)).to_be_checked()
