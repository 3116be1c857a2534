"""The plan as Terraform (users/plans/terraform.py): the renderer, read back with python-hcl2
(tests/hcl.py), and its downloads from the wizard's Review and from an import's dry run."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from tests.conftest import signed_in_client
from tests.hcl import Ref, literal, resources
from tests.integration.services import required
from tests.test_wizard import READ_ONLY, details, step, tags
from users import imports
from users.iam.counter import CALLS
from users.iam.gateway import MUTATING
from users.models import Job
from users.plans.terraform import FILE_NAME, hcl_string, render, resource_name
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, UserPlan
from users.roles import OPERATORS

pytestmark = pytest.mark.django_db

DBA = "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator"
BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"
CUSTOM_PASSWORD = "Custom-Passw0rd!canary"
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": 'arn:aws:s3:::home/${aws:username}/%{x}/"q"\\back',
            }
        ],
    }
)
# Values no IAM field would accept in full, but the renderer must write any string exactly.
NASTY = [
    'say "hi"',
    "back\\slash \\n not a newline",
    "${var.secret}",
    "%{ if true }x%{ endif }",
    "$${already} $$${x} %%{y}",
    "line\nbreak\r\ttab \x01 \x7f",
    "é ✓ 😀 \u2028",
    '}\n}\nresource "aws_iam_user" "evil" {',
]


def full_plan(**changes) -> UserPlan:
    plan = {
        "user_name": "arthur",
        "path": "/eng/",
        "console_access": True,
        "custom_password": True,
        "password_reset_required": True,
        "programmatic_access": True,
        "attach_change_password": True,
        "groups": ("Developers", "DatabaseAdmins"),
        "policy_arns": (DBA, "arn:aws:iam::123456789012:policy/team/ReadS3"),
        "inline_policies": (("home-bucket", DOCUMENT),),
        "permissions_boundary": BOUNDARY,
        "tags": (("team", "earth"), ("cost:center", "42")),
    }
    plan.update(changes)
    return UserPlan(**plan)  # type: ignore[arg-type]


def users_of(found) -> dict[str, str]:
    """IAM user name → the resource name of its aws_iam_user."""
    return {body["name"]: name for (kind, name), body in found.items() if kind == "aws_iam_user"}


# --- The renderer --------------------------------------------------------------------------------


def test_it_writes_every_planned_resource_of_a_user() -> None:
    found = resources(render([full_plan()], source="in a test"))

    user = Ref("aws_iam_user.arthur.name")
    assert list(found) == [
        ("aws_iam_user", "arthur"),
        ("aws_iam_user_login_profile", "arthur"),
        ("aws_iam_user_group_membership", "arthur"),
        ("aws_iam_user_policy_attachment", "arthur_iamuserchangepassword"),
        ("aws_iam_user_policy_attachment", "arthur_databaseadministrator"),
        ("aws_iam_user_policy_attachment", "arthur_reads3"),
        ("aws_iam_user_policy", "arthur_home_bucket"),
        ("aws_iam_access_key", "arthur"),
    ]
    assert found["aws_iam_user", "arthur"] == {
        "name": "arthur",
        "path": "/eng/",
        "permissions_boundary": BOUNDARY,
        "tags": {"team": "earth", "cost:center": "42"},
    }
    assert found["aws_iam_user_login_profile", "arthur"] == {
        "user": user,
        "password_reset_required": True,
        "lifecycle": [{"ignore_changes": [Ref("password_reset_required")]}],
    }
    assert found["aws_iam_user_group_membership", "arthur"] == {
        "user": user,
        "groups": ["Developers", "DatabaseAdmins"],
    }
    attached = [body for (kind, _), body in found.items() if kind == "aws_iam_user_policy_attachment"]
    assert attached == [
        {"user": user, "policy_arn": CHANGE_PASSWORD_POLICY_ARN},
        {"user": user, "policy_arn": DBA},
        {"user": user, "policy_arn": "arn:aws:iam::123456789012:policy/team/ReadS3"},
    ]
    inline = found["aws_iam_user_policy", "arthur_home_bucket"]
    assert (inline["name"], inline["user"]) == ("home-bucket", user)
    assert json.loads(inline["policy"]) == json.loads(DOCUMENT)  # ${aws:username} kept literal
    assert found["aws_iam_access_key", "arthur"] == {"user": user}


def test_it_writes_only_what_a_bare_plan_asks_for() -> None:
    text = render([UserPlan("ford", password_reset_required=False)], source="in a test")
    assert resources(text) == {("aws_iam_user", "ford"): {"name": "ford"}}  # path "/" is the default


def test_it_writes_a_console_user_without_reset_and_no_lifecycle() -> None:
    found = resources(render([UserPlan("ford", console_access=True, password_reset_required=False)], source="x"))
    assert found["aws_iam_user_login_profile", "ford"] == {
        "user": Ref("aws_iam_user.ford.name"),
        "password_reset_required": False,
    }


def test_it_never_writes_a_password_or_a_secret() -> None:
    text = render([full_plan()], source="in a test")
    found = resources(text)
    assert "password" not in found["aws_iam_user_login_profile", "arthur"]
    assert set(found["aws_iam_access_key", "arthur"]) == {"user"}
    assert "not in this file" in text  # the comments say where they come from instead
    assert "The custom password typed in the wizard is neither in this file nor used by it." in text


@pytest.mark.parametrize("value", NASTY)
def test_it_writes_any_string_so_that_it_reads_back_as_itself(value: str) -> None:
    assert literal(hcl_string(value)) == value
    assert "\n" not in hcl_string(value) and "\r" not in hcl_string(value)


def test_it_escapes_tags_paths_and_names_in_the_file() -> None:
    plan = UserPlan(
        "o'brien",
        path="/a/${b}/%{c}/",
        tags=tuple((f"k{i} {value}", value) for i, value in enumerate(NASTY)),
        groups=('gr"oup', "${g}"),
        policy_arns=("arn:aws:iam::123456789012:policy/${p}",),
    )
    found = resources(render([plan], source="in a test"))

    user = found["aws_iam_user", "o_brien"]
    assert user["name"] == "o'brien" and user["path"] == "/a/${b}/%{c}/"
    assert user["tags"] == {f"k{i} {value}": value for i, value in enumerate(NASTY)}
    assert found["aws_iam_user_group_membership", "o_brien"]["groups"] == ['gr"oup', "${g}"]
    assert found["aws_iam_user_policy_attachment", "o_brien_p"]["policy_arn"].endswith("/${p}")
    assert ("aws_iam_user", "evil") not in found


def test_it_keeps_the_source_in_its_comment_whatever_the_file_name() -> None:
    text = render([UserPlan("ford")], source='from "x.csv\n}\nresource "aws_iam_user" "evil" {\n#')
    assert list(resources(text)) == [("aws_iam_user", "ford")]
    assert text.startswith("# IAM users planned by IAM Console from ")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("arthur", "arthur"),
        ("Arthur.Dent", "arthur_dent"),
        ("a+b=c,d.e@f-g_h", "a_b_c_d_e_f_g_h"),
        ("1st", "user_1st"),
        ("_x", "x"),
        ("@+=", "user"),
    ],
)
def test_it_names_resources_with_valid_identifiers(name: str, expected: str) -> None:
    assert resource_name(name) == expected


def test_it_keeps_resource_names_unique_and_each_reference_on_its_user() -> None:
    names = ["a.b", "a_b", "A-B", "a_b_2", "1", "+"]
    plans = [
        UserPlan(n, console_access=True, programmatic_access=True, groups=("g",), policy_arns=(DBA,)) for n in names
    ]
    # Their attachments would both be x_y_z.
    plans += [
        UserPlan("x", policy_arns=("arn:aws:iam::aws:policy/y_z",)),
        UserPlan("x_y", policy_arns=("arn:aws:iam::aws:policy/z",)),
    ]
    found = resources(render(plans, source="in a test"))

    by_user = users_of(found)
    assert sorted(by_user) == sorted([*names, "x", "x_y"])
    assert by_user["a.b"] == "a_b" and by_user["a_b"] == "a_b_2" and by_user["a_b_2"] == "a_b_2_2"
    assert all(IDENTIFIER.fullmatch(name) for _, name in found)
    for (kind, name), body in found.items():
        if kind != "aws_iam_user":
            owner = body["user"].expression.split(".")[1]
            assert ("aws_iam_user", owner) in found, (kind, name)
    attachments = [name for kind, name in found if kind == "aws_iam_user_policy_attachment"]
    assert len(attachments) == len(plans) == len(set(attachments))


def test_terraform_itself_reads_the_file_as_formatted(tmp_path) -> None:
    """`terraform fmt -check` parses the file with HCL's own parser and finds nothing to reformat,
    also where alignment counts characters: combining marks, joined emoji, wide characters."""
    if shutil.which("terraform") is None:
        required("needs terraform on PATH (our machines have /usr/local/bin/terraform)")
    tags = [(f"nasty{i}", value) for i, value in enumerate(NASTY)]
    tags += [("équipe", "1"), ("e\u0301", "2"), ("👩\u200d💻", "3"), ("日本語", "4"), ("❤\ufe0f", "5")]
    text = render([full_plan(tags=tags), UserPlan("ford")], source="x")
    path = tmp_path / FILE_NAME
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-no-color", str(path)],
        capture_output=True,
        text=True,
        env={"TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- From the wizard's Review --------------------------------------------------------------------

TF_URL = reverse("users:create_terraform")


def to_review(client: Client, iam, **detail_fields):
    iam.create_group("Developers")
    details(client, names=["arthur", "ford"], **detail_fields)
    step(
        client,
        "permissions",
        {"option": "group", "groups": ["Developers"], "boundary": "policy", "boundary_policy": READ_ONLY},
    )
    return tags(client, [("team", "earth")])


def test_the_review_shows_the_plan_as_terraform_and_offers_it(iam, operator_client) -> None:
    review = to_review(operator_client, iam)
    assert review.context["wizard"]["steps"].current == "review"
    found = resources(review.context["terraform"])
    assert users_of(found) == {"arthur": "arthur", "ford": "ford"}
    assert f'href="{TF_URL}"' in review.content.decode()


def test_it_downloads_the_review_plan_without_the_custom_password(iam, operator_client) -> None:
    to_review(operator_client, iam, console_password="custom", custom_password=CUSTOM_PASSWORD)
    with CALLS.measure() as calls:
        response = operator_client.get(TF_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{FILE_NAME}"'
    text = response.content.decode()
    assert CUSTOM_PASSWORD not in text
    found = resources(text)
    assert found["aws_iam_user", "ford"] == {
        "name": "ford",
        "permissions_boundary": READ_ONLY,
        "tags": {"team": "earth"},
    }
    assert found["aws_iam_user_group_membership", "arthur"]["groups"] == ["Developers"]
    assert found["aws_iam_user_login_profile", "ford"]["password_reset_required"] is True
    assert ("aws_iam_access_key", "ford") in found
    assert (
        found["aws_iam_user_policy_attachment", "ford_iamuserchangepassword"]["policy_arn"]
        == CHANGE_PASSWORD_POLICY_ARN
    )
    assert not any(calls.by_operation.get(operation) for operation in MUTATING)


def test_the_wizard_goes_on_after_the_download(iam, operator_client, django_capture_on_commit_callbacks) -> None:
    to_review(operator_client, iam)
    assert operator_client.get(TF_URL).status_code == 200
    with django_capture_on_commit_callbacks():
        response = step(operator_client, "review", {})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    assert sorted(item.user_name for item in job.items.all()) == ["arthur", "ford"]


def test_there_is_nothing_to_download_before_the_review(iam, operator_client) -> None:
    assert operator_client.get(TF_URL).status_code == 404
    details(operator_client)
    assert operator_client.get(TF_URL).status_code == 404
    assert operator_client.post(TF_URL).status_code == 405


def test_a_name_taken_since_the_review_sends_the_download_back_to_step_1(iam, operator_client) -> None:
    to_review(operator_client, iam)
    iam.create_user("ford")
    response = operator_client.get(TF_URL)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert response.context["wizard"]["steps"].current == "details"
    assert "already exists" in response.content.decode()


def test_viewers_and_a_read_only_console_get_no_file(iam, operator_client, viewer_client, settings) -> None:
    assert viewer_client.get(TF_URL).status_code == 403
    to_review(operator_client, iam)
    settings.IAM_READ_ONLY = True
    assert operator_client.get(TF_URL).status_code == 403


# --- From an import's dry run --------------------------------------------------------------------

ROWS = [
    "user_name,path,groups,policies,permissions_boundary,tags,console_access,password_reset_required,programmatic_access",
    "zaphod,/heads/,Developers,ReadOnlyAccess,,team=heart of gold; role=president,yes,yes,yes",
    "trillian,,,,,,no,,yes",
    "marvin,,Ghosts,,,,,,",
]


def dry_run(iam, operator):
    iam.create_group("Developers")
    upload = io.BytesIO("\n".join(ROWS).encode())
    return imports.dry_run(upload, file_name="crew.csv", operator=operator, gateway=iam)


def test_it_downloads_the_valid_rows_of_a_dry_run(iam, operator, operator_client) -> None:
    upload = dry_run(iam, operator)
    assert (upload.rows_total, upload.rows_invalid) == (3, 1)
    page = operator_client.get(reverse("users:import_plan", args=[upload.id]))
    url = reverse("users:import_terraform", args=[upload.id])
    assert f'href="{url}"' in page.content.decode()
    assert users_of(resources(page.context["sample_terraform"])) == {"zaphod": "zaphod"}

    response = operator_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{FILE_NAME}"'
    text = response.content.decode()
    assert (
        "# IAM users planned by IAM Console from the valid rows of the dry run of crew.csv (1 row with errors" in text
    )
    found = resources(text)
    assert users_of(found) == {"zaphod": "zaphod", "trillian": "trillian"}  # marvin's group does not exist
    assert found["aws_iam_user", "zaphod"] == {
        "name": "zaphod",
        "path": "/heads/",
        "tags": {"team": "heart of gold", "role": "president"},
    }
    assert found["aws_iam_user_policy_attachment", "zaphod_readonlyaccess"]["policy_arn"] == READ_ONLY
    assert ("aws_iam_user_login_profile", "trillian") not in found and ("aws_iam_access_key", "trillian") in found


def test_a_dry_run_is_its_uploaders_alone(iam, operator, viewer_client, django_user_model) -> None:
    url = reverse("users:import_terraform", args=[dry_run(iam, operator).id])
    other = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    other.groups.add(Group.objects.get(name=OPERATORS))
    assert signed_in_client(other).get(url).status_code == 404
    assert viewer_client.get(url).status_code == 403
