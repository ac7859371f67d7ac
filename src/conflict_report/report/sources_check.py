"""Checks of the report's sources that need no Quarto: every include, embed target, image,
cross-reference label, citation key and ledger variable named in the pages exists; labels
are unique per rendered document; every run in report/runs.yml has its place; the Quarto
configuration parses and names only known formats.

Quarto reports several of these mistakes only as warnings and still exits 0 (a missing
variable prints `?var:x`, an unresolved cross-reference `?@fig-x`), so they are caught here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from conflict_report import paths, yaml_text

KNOWN_FORMATS = {"html", "typst", "pdf", "docx", "revealjs", "gfm", "commonmark", "ipynb", "epub"}
CROSSREF_PREFIXES = ("fig", "tbl", "sec", "eq", "lst")
INCLUDE = re.compile(r"\{\{<\s*include\s+(\S+)\s*>\}\}")
VAR = re.compile(r"\{\{<\s*var\s+([^\s>]+)\s*>\}\}")
EMBED = re.compile(r"\{\{<\s*embed\s+([^\s#>]+)(?:#([^\s>]+))?\s*>\}\}")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
LABEL = re.compile(r"\{#((?:fig|tbl|sec|eq|lst)-[\w-]+)")
REFERENCE = re.compile(r"(?<![\w\\@])@((?:fig|tbl|sec|eq|lst)-[\w-]*[\w])")
CITATION = re.compile(r"(?<![\w\\@])@([A-Za-z][\w]*[\w:-]*)")
BIB_KEY = re.compile(r"@\w+\s*\{\s*([^,\s]+)\s*,")


def quarto_config(report_dir: Path) -> dict:
    return yaml_text.load((report_dir / "_quarto.yml").read_text(encoding="utf-8")) or {}


def rendered_documents(report_dir: Path, config: dict) -> list[Path]:
    documents: list[Path] = []
    for pattern in config.get("project", {}).get("render", []):
        documents += sorted(report_dir.glob(pattern))
    return documents


# A block shown or hidden by the build's metadata (report/_inputs.yml): its fence closes it.
WHEN_META = re.compile(r'(?ms)^(:{3,})\s*\{\.content-(visible|hidden)\s+when-meta="([\w.]+)"\}\s*$(.*?)^\1\s*$')


def meta_true(metadata: dict, dotted: str) -> bool:
    node: object = metadata
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return bool(node)


def without_hidden(text: str, metadata: dict) -> str:
    """The text Quarto renders: blocks whose when-meta condition hides them are left out (their
    variables need not exist; an ACLED-only build has no UCDP versions to quote)."""
    def keep(match: re.Match) -> str:
        shown = meta_true(metadata, match.group(3)) == (match.group(2) == "visible")
        return match.group(4) if shown else ""
    while (kept := WHEN_META.sub(keep, text)) != text:  # a kept block may hold another
        text = kept
    return text


def hidden_includes(report_dir: Path) -> set[str]:
    """The includes that sit in blocks this build's metadata hides, in the hand-written pages and
    sections. Quarto resolves an include before it hides its block, so each must exist: the
    report step writes an empty one where no run made it (an ACLED-only build has no UCDP
    published-totals table)."""
    metadata = build_metadata(report_dir)
    found: set[str] = set()
    for page in [*report_dir.glob("*.qmd"), *(report_dir / "_sections").glob("*.qmd")]:
        text = page.read_text(encoding="utf-8")
        shown = without_hidden(text, metadata)
        found |= set(INCLUDE.findall(text)) - set(INCLUDE.findall(shown))
    return found


def build_metadata(report_dir: Path) -> dict:
    path = report_dir / "_inputs.yml"
    return (yaml_text.load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def expand(path: Path, report_dir: Path, problems: list[str], seen: tuple[Path, ...] = (), base: Path | None = None) -> str:
    """The document's text with its includes inlined, as Quarto does before rendering, and the
    blocks the build's metadata hides left out. Quarto resolves every include, nested ones too,
    from the folder of the document being rendered."""
    text = without_hidden(path.read_text(encoding="utf-8"), build_metadata(report_dir))
    base = base or path.parent

    def inline(match: re.Match) -> str:
        target = (base / match.group(1)).resolve()
        if not target.exists():
            problems.append(f"{path.relative_to(report_dir)}: include {match.group(1)} does not exist")
            return ""
        if target in seen:
            problems.append(f"{path.relative_to(report_dir)}: include {match.group(1)} includes itself")
            return ""
        return expand(target, report_dir, problems, (*seen, target), base)

    return INCLUDE.sub(inline, text)


def variable_value(variables: dict, dotted: str) -> object:
    """The value of `{{< var a.b >}}` in _variables.yml, or None."""
    node: object = variables
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def variable_exists(variables: dict, dotted: str) -> bool:
    return isinstance(variable_value(variables, dotted), (str, int, float))


def notebook_labels(notebook: Path) -> set[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    labels = set()
    for cell in cells:
        labels.add(cell.get("id", ""))
        labels.add(cell.get("metadata", {}).get("label", ""))
        source = "".join(cell.get("source", []))
        labels.update(re.findall(r"(?m)^#\|\s*label:\s*(\S+)", source))
    return labels - {""}


def check_document(document: Path, report_dir: Path, variables: dict, bib_keys: set[str], numbered: bool) -> list[str]:
    problems: list[str] = []
    name = document.relative_to(report_dir).as_posix()
    text = expand(document, report_dir, problems)
    for key in sorted(set(VAR.findall(text))):
        if not variable_exists(variables, key):
            problems.append(f"{name}: variable {key} is not in _variables.yml (the results ledger)")
    for target, label in EMBED.findall(text):
        notebook = (document.parent / target).resolve()
        if not notebook.exists():
            problems.append(f"{name}: embed target {target} does not exist")
        elif label and label not in notebook_labels(notebook):
            problems.append(f"{name}: embed label #{label} is not a cell of {target}")
    for image in IMAGE.findall(text):
        if "://" in image:
            problems.append(f"{name}: image {image} is on another host (the report must load nothing from outside)")
            continue
        resolved = (document.parent / image).resolve()
        if not resolved.is_relative_to(report_dir.resolve()):
            problems.append(f"{name}: image {image} is outside the Quarto project (Typst cannot read it; HTML would break)")
        elif not resolved.exists():
            problems.append(f"{name}: image {image} does not exist")
    labels = LABEL.findall(text)
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    problems += [f"{name}: label {label} is defined more than once" for label in duplicates]
    for reference in sorted(set(REFERENCE.findall(text))):
        if reference not in labels:
            problems.append(f"{name}: cross-reference @{reference} has no label in this document")
        elif reference.startswith("sec-") and not numbered:
            problems.append(f"{name}: @{reference} points at an unnumbered section (Typst fails on that)")
    for key in sorted(set(CITATION.findall(text))):
        if key.split("-")[0] not in CROSSREF_PREFIXES and key not in bib_keys:
            problems.append(f"{name}: citation @{key} is not in references.bib")
    return problems


def document_is_numbered(document: Path, config: dict) -> bool:
    front = document.read_text(encoding="utf-8").split("---")
    meta = yaml_text.load(front[1]) if len(front) > 2 else {}
    return bool((meta or {}).get("number-sections", config.get("number-sections", False)))


def check_config(config: dict) -> list[str]:
    problems = []
    formats = set((config.get("format") or {}).keys())
    problems += [f"_quarto.yml: unknown format {f}" for f in sorted(formats - KNOWN_FORMATS)]
    if config.get("project", {}).get("type") not in ("website", "book", "default", "manuscript"):
        problems.append("_quarto.yml: project.type must be website, book, default or manuscript")
    return problems


def check_runs_have_pages(report_dir: Path, documents: list[Path], variables: dict) -> list[str]:
    """Every run has its page among the rendered documents, and a run with a ledger its values."""
    from conflict_report.report import pages

    problems = []
    names = {d.name for d in documents}
    for run in pages.load_report_runs():
        if run.results is not None and run.key not in variables:
            problems.append(f"runs.yml: run {run.name} has no values in _variables.yml (run `make notebooks`)")
        if run.page not in names:
            problems.append(f"runs.yml: run {run.name} has no page {run.page}")
    return problems


def check(report_dir: Path | None = None) -> list[str]:
    report_dir = report_dir or paths.REPORT
    try:
        config = quarto_config(report_dir)
    except (OSError, yaml.YAMLError) as exc:
        return [f"_quarto.yml: cannot be read ({exc})"]
    problems = check_config(config)
    variables_file = report_dir / "_variables.yml"
    variables = yaml_text.load(variables_file.read_text(encoding="utf-8")) if variables_file.exists() else {}
    bibliography = report_dir / str(config.get("bibliography", "references.bib"))
    bib_keys = set(BIB_KEY.findall(bibliography.read_text(encoding="utf-8"))) if bibliography.exists() else set()
    documents = rendered_documents(report_dir, config)
    if not documents:
        problems.append("_quarto.yml: project.render names no existing page")
    for document in documents:
        problems += check_document(document, report_dir, variables, bib_keys, document_is_numbered(document, config))
    problems += check_runs_have_pages(report_dir, documents, variables)
    return problems
