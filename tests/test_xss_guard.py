"""The stored-XSS guard (RELIABILITY.md B8): nothing of ours turns autoescaping off. IAM data
(names, paths, tags, policy JSON, SSH key comments, MFA device names, IAM's error text) only
ever reaches a page through Django's autoescaping, so any way around it fails this test:

- templates: `|safe`, `|safeseq`, `{% autoescape off %}`, `{% filter safe %}`;
- Python: `mark_safe`, `SafeString`/`SafeText`/`SafeData`, anything from
  `django.utils.safestring`, a `__html__` method, `format_html`/`format_html_join` whose
  format string is not a literal (its arguments are escaped; the format string is not), and a
  form's `help_text` that is not a literal (crispy-forms renders help text with `|safe`);
- our JavaScript: `innerHTML`, `outerHTML`, `insertAdjacentHTML`, `document.write`.

An exception needs an entry in ALLOWED, with the reason it is safe.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "templates", ROOT / "users"]
PYTHON_DIRS = [ROOT / "users", ROOT / "iamconsole"]
SCRIPT_DIRS = [ROOT / "static" / "js"]

TEMPLATE_RULES = {
    "|safe": re.compile(r"\|\s*safe(seq)?\b"),
    "autoescape off": re.compile(r"{%-?\s*autoescape\s+off\b"),
    "filter safe": re.compile(r"{%-?\s*filter\b[^%]*\bsafe(seq)?\b"),
}
SCRIPT_RULE = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write)\b")
UNESCAPING_NAMES = {"mark_safe", "SafeString", "SafeText", "SafeData", "mark_for_escaping"}
FORMAT_STRING_ARGUMENT = {"format_html": 0, "format_html_join": 1}

# (path relative to the repository, the offending line stripped) -> why it is safe.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "static/js/tag_rows.js",
        'const html = document.getElementById("tag-row-template").innerHTML.replace(/__prefix__/g, String(index));',
    ): "copies the server-rendered (autoescaped) empty tag row; only a number is put in",
    ("static/js/tag_rows.js", 'body.insertAdjacentHTML("beforeend", html);'): "inserts that copied row",
}


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def template_findings(path: str, text: str) -> list[str]:
    """Each line of a template that turns autoescaping off, as "path:line: rule: text"."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        for rule, pattern in TEMPLATE_RULES.items():
            if pattern.search(line) and (path, line.strip()) not in ALLOWED:
                findings.append(f"{path}:{number}: {rule}: {line.strip()}")
    return findings


def script_findings(path: str, text: str) -> list[str]:
    return [
        f"{path}:{number}: HTML sink: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if SCRIPT_RULE.search(line) and (path, line.strip()) not in ALLOWED
    ]


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_constant_text(node: ast.AST) -> bool:
    """A literal, or an f-string / concatenation of literals and UPPER_CASE constants only."""
    if isinstance(node, ast.Constant):
        return True
    if not isinstance(node, (ast.JoinedStr, ast.BinOp)):
        return False
    dotted = {child.value for child in ast.walk(node) if isinstance(child, ast.Attribute)}  # `imports` of imports.X
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            return False
        if isinstance(child, (ast.Name, ast.Attribute)) and child not in dotted and not (_name(child) or "").isupper():
            return False
    return True


def _sets_help_text(node: ast.AST) -> bool:
    """`help_text=…` or `….help_text = …` with anything but constant text."""
    if isinstance(node, ast.keyword) and node.arg == "help_text":
        return not _is_constant_text(node.value)
    if isinstance(node, ast.Assign) and any(_name(target) == "help_text" for target in node.targets):
        return not _is_constant_text(node.value)
    return False


def python_findings(path: str, text: str) -> list[str]:
    """Each way around autoescaping in a Python module, as "path:line: rule"."""
    findings = []
    for node in ast.walk(ast.parse(text)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Name, ast.Attribute)) and _name(node) in UNESCAPING_NAMES:
            findings.append(f"{path}:{line}: {_name(node)}")
        elif isinstance(node, ast.alias) and (
            node.name.split(".")[-1] in UNESCAPING_NAMES or "safestring" in node.name
        ):
            findings.append(f"{path}:{line}: imports {node.name}")
        elif isinstance(node, ast.ImportFrom) and node.module == "django.utils.safestring":
            findings.append(f"{path}:{line}: imports from django.utils.safestring")
        elif isinstance(node, ast.FunctionDef) and node.name == "__html__":
            findings.append(f"{path}:{line}: defines __html__")
        elif isinstance(node, ast.Call) and _name(node.func) in FORMAT_STRING_ARGUMENT:
            index = FORMAT_STRING_ARGUMENT[_name(node.func) or ""]
            if len(node.args) <= index or not isinstance(node.args[index], ast.Constant):
                findings.append(f"{path}:{line}: {_name(node.func)} with a format string that is not a literal")
        elif _sets_help_text(node):
            findings.append(f"{path}:{line}: help_text that is not a literal (crispy renders it |safe)")
    return findings


def _files(directories: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        path
        for directory in directories
        for path in directory.rglob("*")
        if path.suffix in suffixes and "__pycache__" not in path.parts and "migrations" not in path.parts
    )


def test_it_scans_the_templates_the_code_and_the_scripts() -> None:
    templates = _files(TEMPLATE_DIRS, (".html", ".txt"))
    python = _files(PYTHON_DIRS, (".py",))
    assert len(templates) > 30 and ROOT / "templates" / "base.html" in templates
    assert ROOT / "users" / "views" / "security.py" in python
    assert ROOT / "static" / "js" / "job_progress.js" in _files(SCRIPT_DIRS, (".js",))


def test_no_template_turns_autoescaping_off() -> None:
    findings = [
        finding
        for path in _files(TEMPLATE_DIRS, (".html", ".txt"))
        for finding in template_findings(_relative(path), path.read_text())
    ]
    assert findings == []


def test_no_code_marks_text_safe() -> None:
    findings = [
        finding
        for path in _files(PYTHON_DIRS, (".py",))
        for finding in python_findings(_relative(path), path.read_text())
    ]
    assert findings == []


def test_no_script_writes_html() -> None:
    findings = [
        finding
        for path in _files(SCRIPT_DIRS, (".js",))
        for finding in script_findings(_relative(path), path.read_text())
    ]
    assert findings == []


def test_every_allowed_exception_still_exists() -> None:
    for path, line in ALLOWED:
        assert line in [text.strip() for text in (ROOT / path).read_text().splitlines()], (path, line)


# The scanner itself: each rule catches what it is for, and lets the safe forms through.


@pytest.mark.parametrize(
    "template",
    [
        "<p>{{ user.name|safe }}</p>",
        "<p>{{ tags|safeseq|join:', ' }}</p>",
        "{% autoescape off %}{{ policy }}{% endautoescape %}",
        "{%- autoescape off -%}",
        "{% filter force_escape|safe %}{{ x }}{% endfilter %}",
        "{{ error.message | safe }}",
    ],
)
def test_the_scan_flags_an_unescaped_template(template: str) -> None:
    assert template_findings("t.html", template) != []


@pytest.mark.parametrize(
    "template",
    [
        "{{ user.name }}",
        "{{ policy|json_script:'policy' }}",
        "{% autoescape on %}{{ x }}{% endautoescape %}",
        "{{ safety_note }}",
        "{{ x|default:'unsafe' }}",
    ],
)
def test_the_scan_lets_escaped_templates_through(template: str) -> None:
    assert template_findings("t.html", template) == []


@pytest.mark.parametrize(
    "code",
    [
        "from django.utils.safestring import mark_safe\nmark_safe(name)",
        "from django.utils import safestring\nsafestring.mark_safe(name)",
        "from django.utils.safestring import SafeString\nSafeString(tag_value)",
        "import django.utils.safestring",
        "format_html(template, name)",
        "format_html(f'<b>{name}</b>')",
        "format_html('<b>' + name + '</b>')",
        "format_html_join('\\n', row_format, rows)",
        "class Link:\n    def __html__(self):\n        return self.url",
        "forms.CharField(help_text=f'Tags of {user.name}')",
        "field.help_text = error.message",
        "forms.CharField(help_text=policy_text)",
    ],
)
def test_the_scan_flags_unescaping_code(code: str) -> None:
    assert python_findings("m.py", code) != []


@pytest.mark.parametrize(
    "code",
    [
        "format_html('<b>{}</b>', user.name)",
        "format_html_join('\\n', '<li>{}</li>', ((tag,) for tag in tags))",
        "escape(name)",
        "forms.CharField(help_text='Up to 128 characters.')",
        "forms.FileField(help_text=f'Up to {imports.MAX_ROWS:,} users and {imports.MAX_BYTES // 1024} KB.')",
        "safe_name = name",
    ],
)
def test_the_scan_lets_escaping_code_through(code: str) -> None:
    assert python_findings("m.py", code) == []


@pytest.mark.parametrize(
    "script", ["cell.innerHTML = row.label;", "el.insertAdjacentHTML('beforeend', x)", "document.write(s)"]
)
def test_the_scan_flags_scripts_that_write_html(script: str) -> None:
    assert script_findings("static/js/x.js", script) != []


def test_the_scan_lets_text_writing_scripts_through() -> None:
    assert script_findings("static/js/x.js", "cell.textContent = row.label;") == []
