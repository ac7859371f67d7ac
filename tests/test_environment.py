"""The two ways to set up the project agree: environment.yml (conda) and pyproject.toml (pip)
declare the same runtime packages, and the README tells a newcomer the two commands. Nothing
in the code or notebooks points at the test data's folder."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO

# conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
# The one known difference: Quarto is conda-forge `quarto` in the environment, and an optional
# extra in pyproject (PyPI's quarto-cli downloads the binary while installing).
QUARTO_CONDA, QUARTO_PYPI, QUARTO_EXTRA = "quarto", "quarto-cli", "quarto"
NOT_PACKAGES = {"python", "pip"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")


def requirement(text: str) -> tuple[str, str]:
    """(normalised name, version spec) of 'pandas>=2.2' or 'quarto=1.10'."""
    name, spec = _REQUIREMENT.match(text).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def conda_environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))


def conda_packages() -> dict[str, str]:
    return dict(requirement(d) for d in conda_environment()["dependencies"] if isinstance(d, str))


def pip_section() -> list[str]:
    return next(d["pip"] for d in conda_environment()["dependencies"] if isinstance(d, dict) and "pip" in d)


def minor_version(spec: str) -> tuple[int, int]:
    major, minor = re.search(r"(\d+)\.(\d+)", spec).groups()
    return int(major), int(minor)


def test_environment_and_pyproject_declare_the_same_runtime_packages() -> None:
    conda = {CONDA_TO_PYPI.get(name, name): spec for name, spec in conda_packages().items()
             if name not in NOT_PACKAGES | {QUARTO_CONDA}}
    pypi = dict(requirement(r) for r in pyproject()["project"]["dependencies"])
    assert conda == pypi


def test_quarto_is_the_one_spelled_out_exception_at_the_same_version() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    (name, spec), = [requirement(r) for r in extras[QUARTO_EXTRA]]
    assert name == QUARTO_PYPI
    assert QUARTO_PYPI not in dict(requirement(r) for r in pyproject()["project"]["dependencies"])
    assert minor_version(conda_packages()[QUARTO_CONDA]) == minor_version(spec)


def test_conda_python_satisfies_requires_python() -> None:
    assert minor_version(conda_packages()["python"]) >= minor_version(pyproject()["project"]["requires-python"])


def test_conda_environment_installs_the_project_with_its_test_extra() -> None:
    assert conda_environment()["channels"] == ["conda-forge"]
    assert "pip" in conda_packages()
    assert pip_section() == ["-e .[test]"]
    assert "test" in pyproject()["project"]["optional-dependencies"]


def test_readme_gives_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make report" in readme
    assert "make test" in readme


def test_no_code_or_notebook_hard_codes_the_shared_data_folder() -> None:
    files = [p for folder in ("src", "notebooks") for p in (REPO / folder).rglob("*") if p.is_file() and p.suffix in (".py", ".ipynb", ".qmd", ".md")]
    assert files
    found = [f"{p.relative_to(REPO)}:{n}" for p in files for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if "../shared" in line or "/shared/data" in line]
    assert found == []
