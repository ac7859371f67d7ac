"""Every run of report/runs.yml gets its place in the report: a page in the site and a section
in the PDF, whether or not its notebook has a template.

- The runs the hand-written pages quote (`national`, `sources`, `case-study`) have those pages.
- A run of a profile notebook (region_profile, actor_profile) gets a page from its template in
  report/_templates/; a second run of the same subject (Aleppo over 2016 beside Aleppo over the
  report's period) is listed under its subject, whose page links to it, and takes the compact
  form in the PDF.
- Any other run (a researcher's own notebook, or a shipped one with other parameters) gets a
  page of its own: with a results ledger, its figures and tables with their captions; without
  one, the stored outputs of its labelled cells (`fig-…` with `fig-cap` and `fig-alt`, `tbl-…`
  with `tbl-cap`), and only those. The PDF has them under "Other analyses".
- The site's navigation is generated from the runs into report/_navigation.yml (ignored by
  git), which _quarto.yml includes through `metadata-files`; _quarto.yml is never rewritten.

A run's title is its `title:` in runs.yml, else made from its parameters, with the period when
it differs from the runs file's `defaults:` ("Aleppo, 2016")."""

from __future__ import annotations

import base64
import datetime as dt
import json
import string
from dataclasses import dataclass
from pathlib import Path

from conflict_report import paths, yaml_text
from conflict_report.analysis import tables as report_tables
from conflict_report.errors import PipelineError

GENERATED = paths.REPORT / "_generated"
TEMPLATES = paths.REPORT / "_templates"
FIGURES = paths.REPORT / "figures"
NAVIGATION = paths.REPORT / "_navigation.yml"
# Runs whose numbers the hand-written pages quote, by name, and those pages.
FIXED_PAGES = {"national": "overview.qmd", "sources": "sources.qmd", "case-study": "case-study.qmd"}
# Profile notebooks: the parameter that names a run's subject, and the prefix of its pages and templates.
PROFILES = {"region_profile": ("governorate", "governorate"), "actor_profile": ("actor", "actor")}
GENERATED_PAGES = ("governorate-*.qmd", "actor-*.qmd", "run-*.qmd")  # written here; ignored by git
# The hand-written pages around the generated menus, in the order of the navigation bar.
# Short texts: the bar holds them all on one line at a laptop's width.
NAV_BEFORE = [{"href": "index.qmd", "text": "Summary"}, {"href": "overview.qmd", "text": "Overview"}]
NAV_AFTER = [{"href": "sources.qmd", "text": "Sources"},
             {"href": "case-study.qmd", "text": "Case study"},
             {"href": "methods.qmd", "text": "Methods"},
             {"href": "changes.qmd", "text": "Changes"}]
NAV_RIGHT = [{"href": "report.qmd", "text": "PDF"}]


class ReportRunError(PipelineError):
    pass


@dataclass(frozen=True)
class ReportRun:
    name: str  # the run's key in report/runs.yml, e.g. gov-aleppo
    notebook: str
    slug: str  # its folder in build/ (the run's name)
    results: dict | None  # results.json: the ledger, figures and tables; None for a notebook without one
    title: str = ""
    subject: str | None = None  # the governorate or actor a profile run is about
    executed_notebook: Path | None = None
    label_slug: str = ""  # the prefix the sweep gave the notebook's cell labels
    variant_of: str | None = None  # the run with the same subject over the report's own period

    @property
    def key(self) -> str:
        """The run's namespace in _variables.yml (Quarto var keys: letters, digits, underscores)."""
        return self.name.replace("-", "_")

    @property
    def page(self) -> str:
        if self.name in FIXED_PAGES:
            return FIXED_PAGES[self.name]
        if self.notebook in PROFILES:
            return f"{PROFILES[self.notebook][1]}-{self.name}.qmd"
        return f"run-{self.name}.qmd"

    @property
    def other_analysis(self) -> bool:
        """Neither a hand-written page's run nor a profile: a page made from its outputs."""
        return self.name not in FIXED_PAGES and self.notebook not in PROFILES


def load_report_runs() -> list[ReportRun]:
    from conflict_report.runs import sweep

    runs, missing = [], []
    for run in sweep.planned_runs():
        # A run that failed after an earlier success keeps its old outputs but no run key:
        # the report must not quote numbers from code or data that have since changed.
        if not run.is_up_to_date():
            missing.append(f"{run.name} (build/{run.folder.name}/)")
            continue
        results_file = run.folder / sweep.RESULTS_FILE
        results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.exists() else None
        subject_parameter = PROFILES.get(run.spec.notebook, (None,))[0]
        subject = (results["parameters"] if results else run.parameters).get(subject_parameter) if subject_parameter else None
        runs.append(ReportRun(run.name, run.spec.notebook, run.folder.name, results, run_title(run.spec, subject), subject,
                              run.executed_notebook, run.slug))
    if missing:
        raise ReportRunError("these runs have no up-to-date results: " + ", ".join(missing)
                             + ". Run `make notebooks` first (a failed run is listed there).")
    return with_variants(runs)


# --- titles and subjects ------------------------------------------------------------------------

def run_title(spec, subject: str | None = None) -> str:
    """The runs file's title, else the run's subject (or its country, or its notebook's name),
    with its period when that differs from the runs file's defaults."""
    if spec.title:
        return spec.title
    parameters = spec.parameters
    base = subject or parameters.get("country") or spec.notebook.replace("_", " ").capitalize()
    period = period_label(parameters.get("start"), parameters.get("end"))
    default = period_label(spec.defaults.get("start"), spec.defaults.get("end"))
    return f"{base}, {period}" if period and period != default else base


def _day(value: object, year_end: bool) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if text.isdigit() and len(text) == 4:
        return dt.date(int(text), 12, 31) if year_end else dt.date(int(text), 1, 1)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def period_label(start: object, end: object) -> str | None:
    """'2016', '2016–2017', or '1 March 2016 to 30 June 2016'; None without a period."""
    first, last = _day(start, False), _day(end, True)
    if first is None or last is None:
        return None
    if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31):
        return str(first.year) if first.year == last.year else f"{first.year}–{last.year}"
    return f"{first.day} {first:%B %Y} to {last.day} {last:%B %Y}"


def with_variants(runs: list[ReportRun]) -> list[ReportRun]:
    """Mark each profile run that shares its subject with an earlier one over the report's own
    period (or, failing that, the first of them) as a variant of it."""
    import dataclasses

    primary: dict[tuple[str, str], ReportRun] = {}
    for run in runs:
        if run.notebook in PROFILES and run.subject:
            key = (run.notebook, run.subject)
            plain = run.title == run.subject
            if key not in primary or (plain and primary[key].title != run.subject):
                primary[key] = run
    return [dataclasses.replace(run, variant_of=primary[(run.notebook, run.subject)].name)
            if run.notebook in PROFILES and run.subject and primary[(run.notebook, run.subject)] is not run else run
            for run in runs]


# --- pages ----------------------------------------------------------------------------------------

def fill(template: str, run: ReportRun, **extra: str) -> str:
    # $name is the run's title ("Aleppo, 2016"), for headings; $subject what it is about ("Aleppo").
    return string.Template((TEMPLATES / template).read_text(encoding="utf-8")).safe_substitute(
        run=run.key, file=run.name, name=run.title, subject=run.subject or run.title, **extra)


def place_phrase(run: ReportRun) -> str:
    """'Aleppo governorate'; a source's own name that says it already ('Aleppo Governorate',
    where data/reference/ has no crosswalk) is not said twice."""
    subject = run.subject or run.title
    return subject if subject.casefold().endswith("governorate") else f"{subject} governorate"


def variants_line(run: ReportRun, runs: list[ReportRun]) -> str:
    """On a subject's page, the links to its other runs; on a variant's, the link back."""
    if run.variant_of:
        main = next(r for r in runs if r.name == run.variant_of)
        return f"This page covers {report_tables.escape(run.title)}; the profile over the report's whole period is [{report_tables.escape(main.title)}]({main.page}).\n"
    others = [r for r in runs if r.variant_of == run.name]
    if not others:
        return ""
    return "Also in this report: " + ", ".join(f"[{report_tables.escape(r.title)}]({r.page})" for r in others) + ".\n"


def profile_pages(runs: list[ReportRun]) -> dict[Path, str]:
    files = {}
    for run in runs:
        if run.notebook in PROFILES:
            prefix = PROFILES[run.notebook][1]
            files[paths.REPORT / run.page] = fill(f"{prefix}.qmd", run, variants=variants_line(run, runs), place=place_phrase(run))
    return files


def index_list(runs: list[ReportRun], notebook: str, describe: str) -> str:
    """The index page's list: each subject with its numbers, its other runs under it."""
    lines = []
    primaries = sorted((r for r in runs if r.notebook == notebook and not r.variant_of), key=lambda r: r.title)
    for run in primaries:
        lines.append(f"- [{report_tables.escape(run.title)}]({run.page}): " + describe.format(key=run.key))
        lines += [f"  - [{report_tables.escape(v.title)}]({v.page}): " + describe.format(key=v.key)
                  for v in runs if v.variant_of == run.name]
    return "\n".join(lines) + "\n"


def compact_sections(runs: list[ReportRun], notebook: str, template: str) -> str:
    """The PDF's sections for a profile notebook: each subject, then its other runs."""
    text = ""
    for run in (r for r in runs if r.notebook == notebook and not r.variant_of):
        text += fill(template, run)
        text += "".join(fill(template, v) for v in runs if v.variant_of == run.name)
    return text


def other_page(run: ReportRun, body: str) -> str:
    return f"---\ntitle: \"{quoted(run.title)}\"\n---\n\n{body}"


def other_section(run: ReportRun, body: str) -> str:
    return f"## {run.title} {{#sec-run-{run.name}}}\n\n{body}\n"


def quoted(text: str) -> str:
    """Text fit for a double-quoted YAML value or Pandoc attribute ("fig-alt=...")."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def run_body(run: ReportRun) -> str:
    """An other analysis's content: its ledger's figures and tables (the generated partials),
    or its labelled cells' stored outputs."""
    if run.results is not None:
        parts = [f"{{{{< include _generated/{run.name}-{f['name']}.qmd >}}}}" for f in run.results["figures"]]
        parts += [f"{{{{< include _generated/{run.name}-table-{t['name']}.qmd >}}}}" for t in run.results["tables"]]
    else:
        parts = [f"{{{{< include _generated/{run.name}-cell-{output.label}.qmd >}}}}" for output in labelled_outputs(run)]
    return "\n\n".join(parts) + "\n" if parts else "This run shows no labelled figure or table.\n"


# --- a notebook's labelled outputs --------------------------------------------------------------

@dataclass(frozen=True)
class LabelledOutput:
    kind: str  # fig or tbl
    label: str  # as the notebook wrote it, without the sweep's prefix: fig-deaths
    caption: str
    alt: str = ""
    png: bytes = b""
    markdown: str = ""


def labelled_outputs(run: ReportRun) -> list[LabelledOutput]:
    """The fig-/tbl- cells of the executed notebook and what they displayed: a PNG for a
    figure, a Markdown table for a table (the sweep's kernels display DataFrames as Markdown)."""
    from conflict_report.runs import sweep

    notebook = json.loads(run.executed_notebook.read_text(encoding="utf-8"))
    found = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        options = sweep.cell_options("".join(cell.get("source", [])))
        label = sweep.unprefixed_label(str(options.get("label", "")), run.label_slug)
        kind = label.partition("-")[0]
        if kind not in ("fig", "tbl"):
            continue
        where = f"{run.name}: {paths.display_path(run.executed_notebook)}, cell {number} ({label})"
        data = [o.get("data", {}) for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
        if kind == "fig":
            images = [d["image/png"] for d in data if "image/png" in d]
            if not images:
                raise ReportRunError(f"{where}: the figure cell displayed no image (end the cell with the figure, or plt.show())")
            png = base64.b64decode("".join(images[-1]) if isinstance(images[-1], list) else images[-1])
            found.append(LabelledOutput("fig", label, str(options["fig-cap"]), str(options["fig-alt"]), png=png))
        else:
            tables = [d["text/markdown"] for d in data if "text/markdown" in d]
            if not tables:
                raise ReportRunError(f"{where}: the table cell displayed no table (end the cell with the DataFrame)")
            text = "".join(tables[-1]) if isinstance(tables[-1], list) else tables[-1]
            found.append(LabelledOutput("tbl", label, str(options["tbl-cap"]), markdown=text.strip()))
    return found


def output_files(run: ReportRun) -> tuple[dict[Path, str], dict[Path, bytes]]:
    """The partials and images of a run without a ledger: one partial per labelled cell."""
    texts, images = {}, {}
    for output in labelled_outputs(run):
        rest = output.label.partition("-")[2]
        label = f"{output.kind}-{run.name}-{rest}"
        partial = GENERATED / f"{run.name}-cell-{output.label}.qmd"
        if output.kind == "fig":
            image = FIGURES / run.slug / f"{output.label}.png"
            images[image] = output.png
            texts[partial] = (f"![{report_tables.escape(output.caption)}](figures/{run.slug}/{output.label}.png)"
                              f"{{#{label} fig-alt=\"{quoted(output.alt)}\"}}\n")
        else:
            texts[partial] = f"{output.markdown}\n\n: {report_tables.escape(output.caption)} {{#{label}}}\n"
    return texts, images


# --- navigation ---------------------------------------------------------------------------------

def navigation(runs: list[ReportRun]) -> dict:
    """The navigation bar: the hand-written pages, and menus of the runs' pages by group."""
    def menu(text: str, index: dict | None, members: list[ReportRun]) -> list[dict]:
        if not members:
            return []
        items = ([index] if index else []) + [{"href": r.page, "text": r.title} for r in members]
        return [{"text": text, "menu": items}]

    profiles = {nb: [r for r in runs if r.notebook == nb and not r.variant_of] for nb in PROFILES}
    left = [*NAV_BEFORE,
            *menu("Governorates", {"href": "governorates.qmd", "text": "All governorates"}, profiles["region_profile"]),
            *menu("Actors", {"href": "actors.qmd", "text": "All actors"}, profiles["actor_profile"]),
            *menu("Other analyses", None, [r for r in runs if r.other_analysis]),
            *NAV_AFTER]
    # Below Bootstrap's xl width (1200 px) the items and the report's title do not fit on one
    # line: the bar becomes a menu there rather than cutting the title short.
    return {"website": {"navbar": {"collapse-below": "xl", "left": left, "right": NAV_RIGHT}}}


def page_files(runs: list[ReportRun]) -> tuple[dict[Path, str], dict[Path, bytes]]:
    """Every page, partial and navigation file made from the runs (text), and the images of
    runs without a ledger (bytes)."""
    files = profile_pages(runs)
    images: dict[Path, bytes] = {}
    files[GENERATED / "governorates-intro.qmd"] = (
        "Each governorate has a page of its own; the ranking is in the [country overview](overview.qmd).\n\n"
        + index_list(runs, "region_profile", "{{{{< var {key}.deaths >}}}} deaths, {{{{< var {key}.share_of_national >}}}} of the national total"))
    files[GENERATED / "actors-intro.qmd"] = (
        "Each actor has a page of its own. An actor is a side when it is one of the members the event source lists for side A or B; "
        "deaths are those of the whole event, on all sides.\n\n"
        + index_list(runs, "actor_profile", "a side in {{{{< var {key}.events >}}}} events with {{{{< var {key}.deaths >}}}} deaths"))
    files[GENERATED / "governorates-compact.qmd"] = (
        "The governorates are ranked in @tbl-national-governorates. For each: its share of the national total, and deaths per month.\n\n"
        + compact_sections(runs, "region_profile", "governorate-compact.qmd"))
    files[GENERATED / "actors-compact.qmd"] = compact_sections(runs, "actor_profile", "actor-compact.qmd")
    others = [r for r in runs if r.other_analysis]
    sections = []
    for run in others:
        if run.results is None:
            texts, run_images = output_files(run)
            files.update(texts)
            images.update(run_images)
        body = run_body(run)
        files[paths.REPORT / run.page] = other_page(run, body)
        sections.append(other_section(run, body))
    files[GENERATED / "other-analyses.qmd"] = ("# Other analyses\n\n" + "\n".join(sections)) if sections else ""
    files[NAVIGATION] = ("# Written by `python -m conflict_report report` from report/runs.yml. Do not edit.\n"
                         + yaml_text.dump(navigation(runs), allow_unicode=True, sort_keys=False, width=200))
    return files, images
