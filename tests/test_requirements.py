"""requirements.txt against what needs it: every pin installs on the Python that pyproject.toml and
the README promise, and `snakemake --report` finds every package it imports among the pins and
what they require, not only among the test tools' dependencies."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from conftest import REPO

TEST_TOOLS = {"pytest", "pytest-xdist", "ruff", "snakefmt"}  # CI's, not the workflow's


def pins() -> dict[str, str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return {canonicalize_name(name): version for name, version in
            (line.split("#")[0].strip().split("==") for line in lines if "==" in line.split("#")[0])}


def lowest_promised_python() -> str:
    specifier = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    return re.fullmatch(r">=(3\.\d+)", specifier).group(1)


def test_every_pin_installs_on_the_lowest_python_that_pyproject_and_the_readme_promise():
    lowest = lowest_promised_python()
    assert f"Python {lowest} or newer" in (REPO / "README.md").read_text()
    ruff_target = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]["target-version"]
    assert ruff_target == "py" + lowest.replace(".", "")
    refused = {name: metadata.metadata(name)["Requires-Python"] for name in pins()
               if lowest not in SpecifierSet(metadata.metadata(name)["Requires-Python"] or "")}
    assert not refused, f"pinned versions that need a newer Python than {lowest}: {refused}"


def required_closure(names: set[str]) -> set[str]:
    """The distributions that `names` need when installed, their own requirements included."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


@pytest.mark.slow
def test_what_the_html_report_imports_is_pinned():
    probe = ("import pkgutil, sys, snakemake.report.html_reporter as r; "
             "[__import__(m.name) for m in pkgutil.walk_packages(r.__path__, r.__name__ + '.')]; "
             "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    providers = metadata.packages_distributions()
    imported = {canonicalize_name(dist) for module in result.stdout.split() if module not in sys.stdlib_module_names
                for dist in providers.get(module, [])}
    available = required_closure(set(pins()) - TEST_TOOLS)
    assert "pygments" in imported and not imported - available, sorted(imported - available)
