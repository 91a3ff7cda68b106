"""The rules that make a seed replay: enforced over the source tree by AST.

1. Layering: flow -> stdlib only; net -> flow; cache -> flow, net; sim -> all.
2. Outside flow/ and net/: no clock, sleep, `random`, `os.urandom`, threads
   or sockets. Time and randomness come from the current loop.
"""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = {"flow", "net", "cache", "sim", "flowcache"}
ALLOWED_PROJECT_IMPORTS = {
    "flow": {"flow"},
    "net": {"flow", "net"},
    "cache": {"flow", "net", "cache"},
    "sim": {"flow", "net", "cache", "sim"},
    "flowcache": PROJECT,
}
ALLOWED_THIRD_PARTY = {"flow": set(), "net": set(), "cache": {"sortedcontainers"}, "sim": {"sortedcontainers"},
                       "flowcache": set()}
# The pytest plugin is test infrastructure shipped inside sim/: it alone may import pytest.
THIRD_PARTY_BY_FILE = {"sim/pytest_plugin.py": {"pytest"}}
# Modules that read clocks, draw randomness or do I/O and threads on their own.
FORBIDDEN_MODULES = {"time", "random", "secrets", "threading", "_thread", "socket", "selectors", "select",
                     "asyncio", "uuid", "datetime", "signal", "concurrent", "multiprocessing"}
FORBIDDEN_CALLS = {("os", "urandom"), ("os", "getrandom"), ("datetime", "now")}
# Whole files that run outside the simulated world (the process pool for --jobs, the CLI's entry).
EXEMPT_FILES: dict[str, set[str]] = {"sim/runner.py": {"multiprocessing", "concurrent", "time"}}


def python_files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


@pytest.mark.parametrize("package", sorted(ALLOWED_PROJECT_IMPORTS))
def test_layering(package):
    problems = []
    for path in python_files(package):
        for line, module in imported_modules(ast.parse(path.read_text(), str(path))):
            top = module.split(".")[0]
            if top in PROJECT:
                if top not in ALLOWED_PROJECT_IMPORTS[package]:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            elif (top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY[package]
                  and top not in THIRD_PARTY_BY_FILE.get(str(path.relative_to(ROOT)), ())):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports third-party {module}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", ["cache", "sim", "flowcache"])
def test_no_clock_randomness_threads_or_sockets_outside_flow_and_net(package):
    problems = []
    for path in python_files(package):
        rel = str(path.relative_to(ROOT))
        exempt = EXEMPT_FILES.get(rel, set())
        tree = ast.parse(path.read_text(), rel)
        for line, module in imported_modules(tree):
            top = module.split(".")[0]
            if top in FORBIDDEN_MODULES and top not in exempt:
                problems.append(f"{rel}:{line} imports {module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in FORBIDDEN_CALLS:
                    problems.append(f"{rel}:{node.lineno} uses {node.value.id}.{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                problems.append(f"{rel}:{node.lineno} uses __import__")
    assert not problems, "\n".join(problems)


def test_the_checker_catches_a_violation(tmp_path):
    """The rule above must be able to fail."""
    bad = ast.parse("import time\nimport os\nx = os.urandom(4)\n")
    modules = [m for _, m in imported_modules(bad)]
    assert "time" in modules
    assert any(isinstance(n, ast.Attribute) and (getattr(n.value, "id", None), n.attr) in FORBIDDEN_CALLS
               for n in ast.walk(bad))


def test_no_simulation_branches_in_cache():
    """One codebase, two loops: cache/ never asks which loop it runs on."""
    problems = []
    for path in python_files("cache"):
        text = path.read_text()
        for needle in ("is_simulated", "SimLoop", "SimNetwork", "RealLoop"):
            if needle in text:
                problems.append(f"{path.relative_to(ROOT)} mentions {needle}")
    assert not problems, "\n".join(problems)
