"""YAML read and written with libyaml, which PyYAML's wheels include, and with PyYAML's own
Python code where it is missing: the same documents and text as yaml.safe_load and
yaml.safe_dump, about ten times faster. The report step reads _variables.yml three times and
the Quarto options of every table cell of every run, and writes _variables.yml (100 kB): with
the Python parser and emitter that was 2 s of a one-run rebuild's 2.5 s of preparation."""

from __future__ import annotations

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str):
    """yaml.safe_load(text), through libyaml when PyYAML has it."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 (a safe loader)


def dump(data, **options) -> str:
    """yaml.safe_dump(data, **options), through libyaml when PyYAML has it."""
    return yaml.dump(data, Dumper=SAFE_DUMPER, **options)
