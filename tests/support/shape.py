"""The shape of the test modules (tests/test_code_shape.py): how many code lines sit in
test functions and how many in everything else, and which fixtures a module defines.

Test code: the bodies of ``test*`` functions at the top level or in ``Test*`` classes.
Helper code: every other top-level statement (helper functions, fixtures, classes,
constants, tables); imports, docstrings and ``pytestmark`` are neither. A line counts if
it holds a token other than a comment.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# pytest-django's fixtures: a fixture of one of these names would hide it.
PYTEST_DJANGO_FIXTURES = frozenset({
    "admin_client", "admin_user", "async_client", "async_rf", "client", "db",
    "django_assert_max_num_queries", "django_assert_num_queries",
    "django_capture_on_commit_callbacks", "django_db_blocker", "django_db_createdb",
    "django_db_keepdb", "django_db_modify_db_settings",
    "django_db_modify_db_settings_xdist_suffix", "django_db_reset_sequences",
    "django_db_serialized_rollback", "django_db_setup", "django_db_use_migrations",
    "django_mail_dnsname", "django_mail_patch_dns", "django_test_environment",
    "django_user_model", "django_username_field", "live_server", "mailoutbox", "rf",
    "settings", "transactional_db",
})  # fmt: skip


@dataclass
class Shape:
    path: Path
    test_lines: int = 0
    helper_lines: int = 0
    fixtures: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.path.relative_to(TESTS.parent))

    @property
    def shadowing(self) -> list[str]:
        return sorted(set(self.fixtures) & PYTEST_DJANGO_FIXTURES)


def module_paths() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def conftests() -> list[Path]:
    return sorted(TESTS.rglob("conftest.py"))


def _code_lines(source: str) -> set[int]:
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENDMARKER}  # fmt: skip
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def _span(node: ast.stmt) -> set[int]:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return set(range(start, (node.end_lineno or node.lineno) + 1))


def _is_fixture(node: ast.AST) -> bool:
    """Decorated ``@pytest.fixture`` (called or not); ``@pytest.mark.usefixtures`` is not."""
    return any(ast.unparse(d.func if isinstance(d, ast.Call) else d) in ("pytest.fixture",
                                                                       "fixture")
               for d in getattr(node, "decorator_list", []))


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _is_pytestmark(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
    )


def _is_test(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test")
        and not _is_fixture(node)
    )


def shape(path: Path) -> Shape:
    source = path.read_text()
    tree = ast.parse(source)
    test: set[int] = set()
    helper: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) or _is_docstring(node):
            continue
        if _is_pytestmark(node):
            continue
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for member in node.body:
                if not _is_docstring(member):
                    (test if _is_test(member) else helper).update(_span(member))
            continue
        (test if _is_test(node) else helper).update(_span(node))
    code = _code_lines(source)
    fixtures = [
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and _is_fixture(n)
    ]
    return Shape(path, len(test & code), len(helper & code), fixtures)
