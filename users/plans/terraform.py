"""The plan as Terraform: the users a Review (or an import's dry run) would create, as resources
of the hashicorp/aws provider, beside the equivalent AWS CLI commands (`UserPlan.cli_commands`).

One plan gives, in the order provisioning makes them:

    aws_iam_user                    name, path, permissions_boundary, tags
    aws_iam_user_login_profile      console access: password_reset_required, never a password
    aws_iam_user_group_membership   the groups, by name
    aws_iam_user_policy_attachment  one per managed policy ARN (IAMUserChangePassword included)
    aws_iam_user_policy             one per inline policy (copied from an existing user)
    aws_iam_access_key              programmatic access, never a secret

No secret is written: a `UserPlan` holds none (a custom password stays in the one-time store),
and Terraform generates the password and the access key itself, keeping them in its state.

Output is what `terraform fmt` writes (2-space indents, `=` aligned within a run of one-line
attributes), so the file can go into a repository as it is. Every string goes through
`hcl_string`: HCL escapes plus `$${` and `%%{`, so that no value (a tag, a path, a policy's
`${aws:username}`) is read as a template. Resource names are valid identifiers, unique per type.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, UserPlan

FILE_NAME = "iam-users.tf"
CONTENT_TYPE = "text/plain; charset=utf-8"

HEADER = """\
# IAM users planned by IAM Console {source}.
# Resources of the hashicorp/aws Terraform provider; configure the provider for the account
# these users belong in. Groups and policies are referenced by name and ARN: they must exist.
#
# No password or secret access key is in this file. Terraform generates them and keeps them
# in its state: protect the state, or add pgp_key to aws_iam_user_login_profile and
# aws_iam_access_key to have them encrypted with your PGP key instead."""

_NOT_IDENTIFIER = re.compile(r"[^a-z0-9_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def render(plans: Iterable[UserPlan], *, source: str) -> str:
    """The .tf file of these plans: the header (`source` says where the plan was made, e.g.
    "at the Review of the Add user wizard"), then each user's resources. Ends with a newline."""
    names = _Names()
    # `source` may name an uploaded file: no line break of its may end the comment.
    blocks = [HEADER.format(source=_CONTROL.sub(" ", source))]
    for plan in plans:
        blocks += [block.text() for block in _user_blocks(plan, names)]
    return "\n\n".join(blocks) + "\n"


def hcl_string(value: str) -> str:
    """`value` as a quoted HCL string literal that means exactly `value`: backslash escapes for
    `\\`, `"` and control characters, and `$${` / `%%{` for a literal `${` / `%{`."""
    escaped = "".join(_SIMPLE_ESCAPES.get(char, char) for char in value)
    escaped = _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", escaped)
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def resource_name(name: str) -> str:
    """A Terraform identifier for a resource named after `name` (an IAM user or policy name):
    lower case, letters, digits and underscores (IAM's + = , . @ - become _), a letter first."""
    identifier = _slug(name)
    return identifier if identifier[:1].isalpha() else f"user_{identifier}".rstrip("_")


def _slug(name: str) -> str:
    return _NOT_IDENTIFIER.sub("_", name.lower()).strip("_")


# --- Blocks --------------------------------------------------------------------------------------


@dataclass
class _Block:
    """An HCL block: a header (`resource "type" "name"`), comment lines above it, and a body
    of attributes (a line each, or several for a map or a heredoc) and nested blocks."""

    header: str
    comments: list[str] = field(default_factory=list)
    body: list[list[str]] = field(default_factory=list)  # items; an item is its lines
    heredocs: set[int] = field(default_factory=set)  # the items that are heredoc attributes

    def attribute(self, name: str, expression: str) -> None:
        self.body.append([f"{name} = {expression}"])

    def map_attribute(self, name: str, pairs: Iterable[tuple[str, str]]) -> None:
        entries = [(hcl_string(key), hcl_string(value)) for key, value in pairs]
        self.body.append([f"{name} = {{", *_aligned(entries, indent="  "), "}"])

    def heredoc_attribute(self, name: str, text: str) -> None:
        """`text` as an indented heredoc (`<<-EOT`); its lines must not be `EOT` alone."""
        lines = [f"  {line}" if line else "" for line in _template_escaped(text).splitlines()]
        self.body.append([f"{name} = <<-EOT", *lines, "EOT"])
        self.heredocs.add(len(self.body) - 1)

    def nested(self, block: _Block) -> None:
        self.body.append(["", *block.text().splitlines()])

    def text(self) -> str:
        lines = [f"# {comment}" if comment else "#" for comment in self.comments]
        lines.append(f"{self.header} {{")
        lines += [f"  {line}" if line else "" for line in _format_body(self.body, self.heredocs)]
        lines.append("}")
        return "\n".join(lines)


def _format_body(items: list[list[str]], heredocs: set[int]) -> list[str]:
    """The body's lines, as `terraform fmt` aligns them: a run of one-line attributes gets its
    `=` in one column. A heredoc's first line is the last of a run; a map or a nested block is
    in none and ends the run before it."""
    lines: list[str] = []
    run: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        if len(item) == 1 or index in heredocs:
            name, _, expression = item[0].partition(" = ")
            run.append((name, expression))
            if len(item) == 1:
                continue
            lines += _aligned(run) + item[1:]
        else:
            lines += _aligned(run) + item
        run = []
    return lines + _aligned(run)


def _aligned(pairs: list[tuple[str, str]], indent: str = "") -> list[str]:
    width = max((_columns(name) for name, _ in pairs), default=0)
    return [f"{indent}{name}{' ' * (width - _columns(name))} = {expression}" for name, expression in pairs]


def _columns(text: str) -> int:
    """How many columns `terraform fmt` gives `text`: one per grapheme cluster, here a character
    without the combining marks on it and without what a zero-width joiner joins to it."""
    columns, joined = 0, False
    for char in text:
        if char == "\u200d":
            joined = True
        elif not joined and not unicodedata.combining(char) and unicodedata.category(char) not in ("Mn", "Me"):
            columns += 1
        else:
            joined = False
    return columns


def _template_escaped(text: str) -> str:
    """`text` for a heredoc, where backslashes are literal but `${` and `%{` start templates."""
    return text.replace("${", "$${").replace("%{", "%%{")


# --- One user's resources ------------------------------------------------------------------------


class _Names:
    """Resource names handed out so far, per resource type: a clash gets _2, _3 …"""

    def __init__(self) -> None:
        self.taken: dict[str, set[str]] = {}

    def unique(self, resource_type: str, wanted: str) -> str:
        taken = self.taken.setdefault(resource_type, set())
        name, number = wanted, 1
        while name in taken:
            number += 1
            name = f"{wanted}_{number}"
        taken.add(name)
        return name


def _user_blocks(plan: UserPlan, names: _Names) -> list[_Block]:
    base = names.unique("aws_iam_user", resource_name(plan.user_name))
    user_ref = f"aws_iam_user.{base}.name"
    user = _Block(f'resource "aws_iam_user" "{base}"')
    user.attribute("name", hcl_string(plan.user_name))
    if plan.path != "/":
        user.attribute("path", hcl_string(plan.path))
    if plan.permissions_boundary:
        user.attribute("permissions_boundary", hcl_string(plan.permissions_boundary))
    if plan.tags:
        user.map_attribute("tags", plan.tags)
    blocks = [user]

    if plan.console_access:
        comments = ["The password is not in this file: Terraform generates one (see the top of the file)."]
        if plan.custom_password:
            comments.append("The custom password typed in the wizard is neither in this file nor used by it.")
        profile = _Block(f'resource "aws_iam_user_login_profile" "{base}"', comments)
        profile.attribute("user", user_ref)
        profile.attribute("password_reset_required", "true" if plan.password_reset_required else "false")
        if plan.password_reset_required:
            # The user's first sign-in clears it in IAM; without this, Terraform would replace
            # the login profile (and the password) to set it again.
            lifecycle = _Block("lifecycle")
            lifecycle.attribute("ignore_changes", "[password_reset_required]")
            profile.nested(lifecycle)
        blocks.append(profile)

    if plan.groups:
        membership = _Block(f'resource "aws_iam_user_group_membership" "{base}"')
        membership.attribute("user", user_ref)
        membership.attribute("groups", "[" + ", ".join(hcl_string(group) for group in plan.groups) + "]")
        blocks.append(membership)

    arns = ([CHANGE_PASSWORD_POLICY_ARN] if plan.attach_change_password else []) + list(plan.policy_arns)
    for arn in arns:
        name = names.unique("aws_iam_user_policy_attachment", _joined(base, arn.rsplit("/", 1)[-1]))
        comments = []
        if arn == CHANGE_PASSWORD_POLICY_ARN and plan.attach_change_password:
            comments = ["The account's password policy does not let users change their own password."]
        attachment = _Block(f'resource "aws_iam_user_policy_attachment" "{name}"', comments)
        attachment.attribute("user", user_ref)
        attachment.attribute("policy_arn", hcl_string(arn))
        blocks.append(attachment)

    for policy_name, document in plan.inline_policies:
        name = names.unique("aws_iam_user_policy", _joined(base, policy_name))
        inline = _Block(f'resource "aws_iam_user_policy" "{name}"')
        inline.attribute("name", hcl_string(policy_name))
        inline.attribute("user", user_ref)
        _policy_document(inline, document)
        blocks.append(inline)

    if plan.programmatic_access:
        key = _Block(
            f'resource "aws_iam_access_key" "{base}"',
            ["The secret access key is not in this file: Terraform creates it (see the top of the file)."],
        )
        key.attribute("user", user_ref)
        blocks.append(key)
    return blocks


def _joined(base: str, name: str) -> str:
    """The name of a user's resource that there may be several of: the user's, then `name`'s."""
    return f"{base}_{_slug(name)}".rstrip("_")


def _policy_document(block: _Block, document: str) -> None:
    """The policy JSON, indented in a heredoc when it parses (a policy's `${aws:username}`
    escaped), else as one string."""
    try:
        pretty = json.dumps(json.loads(document), indent=2, ensure_ascii=False)
    except ValueError:
        block.attribute("policy", hcl_string(document))
        return
    if any(line.strip() == "EOT" for line in pretty.splitlines()):  # never in JSON, but it would end the heredoc
        block.attribute("policy", hcl_string(pretty))
    else:
        block.heredoc_attribute("policy", pretty)
