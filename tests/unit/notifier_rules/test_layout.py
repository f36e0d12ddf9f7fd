"""The notifier's domain stays pure: it can be tested and reasoned about without a server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import services.notifier.domain

DOMAIN = Path(services.notifier.domain.__file__).parent
IO_LIBRARIES = {"sqlalchemy", "asyncpg", "faststream", "nats", "httpx", "aiosmtplib", "fastapi"}
OUTER_ROOMS = (
    "services.notifier.adapters",
    "services.notifier.usecases",
    "services.notifier.entrypoints",
    "services.notifier.bootstrap",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda path: path.name)
def test_the_domain_imports_no_io_library_and_nothing_outside_it(path: Path) -> None:
    for module in _imports(path):
        assert module.split(".")[0] not in IO_LIBRARIES, module
        assert not module.startswith(OUTER_ROOMS), module
