"""`make report`: write the report's generated sources from the runs' results, check them,
and render the HTML site and the PDF with Quarto. Quarto renders stored results; it never
re-runs the analysis.

What this writes (all ignored by git, rebuilt every time from build/):
- report/_variables.yml: every run's ledger values as display text (Quarto's {{< var >}}),
  plus the build's date and commit;
- report/figures/<slug>/: the runs' figure files (PNG, SVG and the CSV each was drawn from),
  inside the project so both formats find them;
- report/data/<slug>/: the runs' tables as CSV, which the site links under each table;
- report/_generated/*.qmd: one partial per figure and table, and the governorate and actor
  sections made from report/_templates/ for each run in report/runs.yml;
- report/governorate-<run>.qmd: a page per governorate run."""

from __future__ import annotations

import datetime as dt
import errno
import http.server
import json
import re
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pandas as pd

from conflict_report import atomic, paths, yaml_text
from conflict_report.analysis import tables as report_tables
from conflict_report.analysis.results import ACLED_LEFT_OUT
from conflict_report.errors import PipelineError
from conflict_report.report import pages, render_plan, stamp
from conflict_report.report.pages import ReportRun, load_report_runs  # noqa: F401 (the report's runs, used here and by callers)

GENERATED, FIGURES = pages.GENERATED, pages.FIGURES
TABLES = paths.REPORT / "data"
VARIABLES = paths.REPORT / "_variables.yml"
# Which inputs this build has, as page metadata (_quarto.yml's metadata-files), so a page shows
# a paragraph only when its source is there: ::: {.content-visible when-meta="inputs.acled"}.
INPUTS_METADATA = paths.REPORT / "_inputs.yml"
SCRATCH_OUTPUT = "_output.new"  # the render goes here, and replaces _output only once checked
RENDER_LOG = paths.BUILD / "quarto-render.log"  # Quarto's stderr of the render now in report/_output
MIN_PDF_PAGES = 10  # a shorter PDF lost its sections
PDF_NAME = "report.pdf"
QUARTO_MIN_VERSION = (1, 5)  # typst format options, embed, website search used here
QUARTO_REVIEWED_VERSION = (1, 10)
INSTALL_QUARTO = (
    "Quarto is needed to render the report. Install it with one of:\n"
    "  conda env create -f environment.yml && conda activate conflict-report   (conda-forge quarto 1.10)\n"
    "  pip install 'quarto-cli==1.10.*'                                         (downloads Quarto while installing)\n"
    "  https://quarto.org/docs/download/                                        (then put it on PATH)\n"
    "or point QUARTO=/path/to/quarto at an installed one. Everything before the render is built."
)


class ReportError(PipelineError):
    pass


# Which runs the report shows and where: report/pages.py.


# --- the ledger as Quarto variables ------------------------------------------------------------

def variables(runs: list[ReportRun]) -> dict:
    """Display text only: Quarto prints values as YAML parsed them (112337 -> 112337, 0.50 ->
    0.5), so every value is stored as the string the ledger formatted."""
    data = {run.key: {key: str(item["display"]) for key, item in run.results["values"].items()} for run in runs if run.results}
    data["build"] = {"date": dt.date.today().isoformat(), "commit": stamp.git_commit()}
    country = report_country(runs)
    data["report"] = {"country": country, "title": f"Organised violence in {country}" if country else "Organised violence",
                      "boundaries_credit": boundaries_credit() or "no boundaries given (BOUNDARIES_ADMIN1, BOUNDARIES_ADMIN2 unset)"}
    return data


def report_country(runs: list[ReportRun]) -> str:
    """The country the report is about: the runs' `country` parameter (report/runs.yml's
    defaults), as the first run that has one ran with it."""
    countries = [r.results["parameters"].get("country") for r in runs if r.results]
    return next((c for c in countries if c), "")


def read_manifest() -> dict:
    return json.loads(paths.MANIFEST.read_text(encoding="utf-8"))


def boundaries_credit() -> str | None:
    """BOUNDARIES_CREDIT as the data step recorded it (None without boundaries)."""
    return read_manifest().get("boundaries_credit")


# --- generated partials -----------------------------------------------------------------------

def figure_block(run: ReportRun, figure: dict, label_prefix: str = "") -> str:
    label = f"fig-{label_prefix}{run.name}-{figure['name'].replace('_', '-')}"
    folder = f"figures/{run.slug}"
    image = f"{folder}/{Path(figure['png']).name}"
    links = [("Data (CSV)", f"{folder}/{Path(figure['csv']).name}"), ("Figure (SVG)", f"{folder}/{Path(figure['svg']).name}")]
    return (f"![{report_tables.escape(figure['caption'])}]({image}){{#{label} fig-alt=\"{pages.quoted(figure['alt'])}\"}}\n"
            + data_links(links, licence_line(run, figure)))


def licence_line(run: ReportRun, item: dict) -> str:
    """'Source: UCDP GED 25.1, CC BY 4.0', as under the run's figures, plus the boundaries'
    licence on maps and the note that ACLED events are left out of event-level data."""
    parts = [item.get("credit") or run.results["values"].get("source_line", {}).get("display", "Source: see the run's notebook")]
    if item.get("boundaries"):  # the boundaries' credit beside the data links of every map
        parts.append(f"boundaries: {boundaries_credit()}")
    text = "; ".join(parts) + "."
    if item.get("event_level"):
        text += " " + ACLED_LEFT_OUT
    return text


def data_links(links: list[tuple[str, str]], licence: str) -> str:
    """The links to the data under a figure or table, with the licence line beside them, in
    the site only (the PDF names no file it cannot link)."""
    anchors = " · ".join(f"[{text}]({target}){{.data-link}}" for text, target in links)
    # Two divs: Quarto unwraps a content-visible div, dropping its other classes.
    return (f"\n:::: {{.content-visible when-format=\"html\"}}\n::: {{.data-links}}\n{anchors} · {report_tables.escape(licence)}\n:::\n::::\n")


TABLE_DISPLAY = {
    "governorates": lambda t: report_tables.ranked_for_display(t, "admin1", "Governorate"),
    "districts": lambda t: report_tables.ranked_for_display(t, "admin2", "District"),
    "opponents": lambda t: report_tables.ranked_for_display(t.head(12), "opponent", "Opponent"),
    "deadliest": report_tables.deadliest_for_display,
    "published_totals": report_tables.published_for_display,
    "by_year_and_source": report_tables.by_source_for_display,
    "quality_flags": report_tables.flags_for_display,
    "curated_events": report_tables.curated_for_display,
    "claims_checked": report_tables.claims_for_display,
}


# Notes printed under a table (the reasoning its rows point to by number).
TABLE_NOTES = {"claims_checked": report_tables.claims_notes}
# Room for a one-word header ("Strikes") or a short phrase, which Typst cannot break.
TABLE_MIN_WIDTHS = {"claims_checked": report_tables.CLAIMS_MIN_WIDTHS, "by_year_and_source": {"Year": 8, "Source": 10},
                    "curated_events": {"Strikes": 12, "Civilian deaths": 16, "Deaths": 18}}
CSV_DTYPES = {"count": "Int64", "number": "float64", "share": "float64"}


def read_table(path: Path, units: dict[str, str]) -> pd.DataFrame:
    """A run's CSV with the column types its ledger entry gives: a count with gaps stays a
    whole number (pandas alone would read it as 7.0)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={c: CSV_DTYPES.get(u, "object") for c, u in units.items()})


def table_block(run: ReportRun, table: dict) -> str:
    units = table.get("columns", {})
    frame = read_table(paths.BUILD / run.slug / table["file"], units)
    display = TABLE_DISPLAY.get(table["name"])
    shown = display(frame) if display else report_tables.generic_for_display(frame, units)
    label = f"tbl-{run.name}-{table['name'].replace('_', '-')}"
    text = report_tables.markdown(shown, min_widths=TABLE_MIN_WIDTHS.get(table["name"])) + f"\n: {report_tables.escape(table['caption'])} {{#{label}}}\n"
    if table["name"] in TABLE_NOTES:
        text += "\n" + TABLE_NOTES[table["name"]](frame)
    text += inconsistent_note_block(shown)
    return text + data_links([("Data (CSV)", f"data/{run.slug}/{Path(table['file']).name}")], licence_line(run, table))


def inconsistent_note_block(shown: pd.DataFrame) -> str:
    """The note under a table with marked rows, linking to the methods' flag table: on the
    site a link to its page, in the PDF a link within the one document that holds it."""
    if not report_tables.has_inconsistent_rows(shown):
        return ""
    web = report_tables.inconsistent_note_text(f"[the table of flags](methods.qmd#{report_tables.FLAG_TABLE_LABEL})")
    pdf = report_tables.inconsistent_note_text(f"[the table of flags in the methods](#{report_tables.FLAG_TABLE_LABEL})")
    return (f"\n::: {{.content-visible when-format=\"html\"}}\n{web}\n:::\n\n"
            f"::: {{.content-visible unless-format=\"html\"}}\n{pdf}\n:::\n")


def not_available_block(item: dict) -> str:
    """What the page shows where a figure or table is missing for want of an optional input."""
    return f"::: {{.not-available}}\n*{report_tables.escape(item['description'].capitalize())}: {report_tables.escape(item['note'])}.*\n:::\n"


def absent_inputs_block() -> str:
    """The methods' list of the optional inputs this build went without, and what each costs."""
    absent = read_manifest().get("absent_inputs", [])
    if not absent:
        return "Every optional input was given.\n"
    lines = [f"- **{report_tables.escape(a['description'])}** ({a['variable']} {report_tables.escape(a['why'])}): "
             f"{report_tables.escape(a['costs'])}." for a in absent]
    return "Inputs this build went without, and what the report loses for each:\n\n" + "\n".join(lines) + "\n"


def manifest_table() -> str:
    manifest = read_manifest()
    rows = pd.DataFrame([{
        "Input": item["file_name"],
        "Version": item["dataset_version"],
        # The full checksum is in manifest.json; 12 hex digits identify a file and fit an A4 column.
        "SHA-256 (first 12)": item["sha256"][:12],
        "Rows read / kept / flagged / quarantined": (f"{item['rows_read']:,} / {item['rows_kept']:,} / {item['rows_flagged']:,} / {item['rows_rejected']:,}"
                                                     if "rows_read" in item else "–"),
        # The processing date is the build's (title page); the CSV and manifest.json keep it per input.
    } for item in manifest["inputs"]])
    return (report_tables.markdown(rows, align_numbers=False)
            + "\n: The inputs of this report, from `data/processed/manifest.json` (which holds the full SHA-256) {#tbl-inputs}\n"
            + data_links([("Data (CSV)", "data/inputs.csv")], inputs_licences(manifest)))


INPUT_LICENCES = {"ucdp_ged": "UCDP data CC BY 4.0", "ucdp_country_year": "UCDP data CC BY 4.0", "acled": "ACLED: its terms of use",
                  "curated": "curated events: see their citations"}


def inputs_licences(manifest: dict) -> str:
    """The licences of the inputs this build used, once each."""
    used = dict.fromkeys(INPUT_LICENCES.get(item["name"], INPUT_LICENCES.get(item["source"], "")) for item in manifest["inputs"])
    if boundaries_credit():  # the boundaries' credit and licence are the BOUNDARIES_CREDIT setting's
        used[f"boundaries: {boundaries_credit()}"] = None
    return "Licences: " + "; ".join(text for text in used if text) + "."


def acled_mapping_table() -> str:
    """How ACLED's event types become the report's types of violence: acled.VIOLENCE_TYPE_RULES,
    the rules the data step applies, printed as they are."""
    from conflict_report.data.sources.acled import VIOLENCE_TYPE_RULES

    rows = pd.DataFrame({"ACLED event type": list(VIOLENCE_TYPE_RULES), "Type of violence in this report": list(VIOLENCE_TYPE_RULES.values())})
    return (report_tables.markdown(rows, align_numbers=False)
            + "\n: ACLED's event types and the report's types of violence (`data/sources/acled.py`, VIOLENCE_TYPE_RULES) {#tbl-acled-mapping}\n")


def generated_files(runs: list[ReportRun]) -> tuple[dict[Path, str], dict[Path, bytes]]:
    """Every generated source file and its text, and the images of runs without a ledger."""
    files: dict[Path, str] = {}
    for run in (r for r in runs if r.results):
        for figure in run.results["figures"]:
            files[GENERATED / f"{run.name}-{figure['name']}.qmd"] = figure_block(run, figure)
            if run.name == "national":
                files[GENERATED / f"summary-{run.name}-{figure['name']}.qmd"] = figure_block(run, figure, "summary-")
        for table in run.results["tables"]:
            files[GENERATED / f"{run.name}-table-{table['name']}.qmd"] = table_block(run, table)
        for item in run.results.get("not_available", []):
            partial = f"{run.name}-{item['name']}" if item["kind"] == "figure" else f"{run.name}-table-{item['name']}"
            files[GENERATED / f"{partial}.qmd"] = not_available_block(item)
            if run.name == "national":
                files[GENERATED / f"summary-{partial}.qmd"] = not_available_block(item)
    pages_text, images = pages.page_files(runs)
    files.update(pages_text)
    files[GENERATED / "manifest-table.qmd"] = manifest_table()
    files[GENERATED / "absent-inputs.qmd"] = absent_inputs_block()
    # Sections about one optional input: the curated events (case study), the published totals.
    files[GENERATED / "case-study-body.qmd"] = section_or_note(runs, "case-study", "curated_events", "_sections/case-study.qmd")
    files[GENERATED / "sources-published-body.qmd"] = section_or_note(runs, "sources", "published_totals", "_sections/sources-published.qmd")
    files[GENERATED / "acled-mapping.qmd"] = acled_mapping_table()
    files.update(changes_files())
    return files, images


def section_or_note(runs: list[ReportRun], run_name: str, missing: str, section: str) -> str:
    """A hand-written section that quotes a run's numbers throughout, or, when that run went
    without the input the section is about (its ledger's `not_available`), the note saying so."""
    run = next((r for r in runs if r.name == run_name and r.results), None)
    notes = [item["note"] for item in (run.results.get("not_available", []) if run else []) if item["name"] == missing]
    if notes:
        return f"::: {{.not-available}}\n*This section is {report_tables.escape(notes[0])}.*\n:::\n"
    return f"{{{{< include {section} >}}}}\n"


def changes_files() -> dict[Path, str]:
    """The "changes since the last edition" partial and its full event list (report/changes.py)."""
    from conflict_report.report import changes

    return changes.report_files()


def write_sources(runs: list[ReportRun]) -> None:
    """Write the generated files (and remove stale ones, e.g. of a governorate taken out)."""
    from conflict_report.report.sources_check import hidden_includes

    atomic.write_text(INPUTS_METADATA, "# Written by `python -m conflict_report report` from data/processed/manifest.json. Do not edit.\n"
                      + yaml_text.dump(inputs_metadata(runs), sort_keys=True))
    files, images = generated_files(runs)
    for include in sorted(hidden_includes(paths.REPORT)):
        # Included from a block this build hides (its source is absent): Quarto still reads the file.
        files.setdefault(paths.REPORT / include, "<!-- Not in this build: the block that includes this is hidden (report/_inputs.yml). -->\n")
    for stale in [*GENERATED.glob("*.qmd"), *(p for pattern in pages.GENERATED_PAGES for p in paths.REPORT.glob(pattern))]:
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic.write_text(path, text)
    for path, data in images.items():
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(path, data)
    copied = copy_run_files(runs)
    write_inputs_csv()
    remove_other_files(FIGURES, {*copied, *images})
    remove_other_files(TABLES, {*copied, TABLES / "inputs.csv"})
    text = yaml_text.dump(variables(runs), allow_unicode=True, sort_keys=True, width=200)
    atomic.write_text(VARIABLES, "# Written by `python -m conflict_report report` from build/*/results.json. Do not edit.\n" + text)


def inputs_metadata(runs: list[ReportRun]) -> dict:
    """`inputs.<name>`: true for each input the data step used (data/inputs.py names), false for
    each it did not; `counted.<source>`: true for the event source the report's figures come
    from (the national run's, else the first event source present), false for the others."""
    from conflict_report.data import inputs
    from conflict_report.data.schema import EVENT_SOURCES

    used = {item["name"] for item in json.loads(paths.MANIFEST.read_text(encoding="utf-8"))["inputs"]}
    national = next((r for r in runs if r.name == "national" and r.results), None)
    counted = [s for s in (national.results["parameters"]["sources"] if national else [s for s in EVENT_SOURCES if s in used])
               if s in EVENT_SOURCES][:1]
    return {"inputs": {item.name: item.name in used for item in inputs.ALL_INPUTS},
            "counted": {source: source in counted for source in EVENT_SOURCES}}


def copy_run_files(runs: list[ReportRun]) -> set[Path]:
    """The runs' figures (PNG, SVG, CSV) into report/figures/<slug>/ and their tables (CSV)
    into report/data/<slug>/, inside the project, so the site serves every file it links.
    Returns the files it placed there."""
    placed = set()
    for run in (r for r in runs if r.results):
        wanted = [(FIGURES / run.slug, figure[kind]) for figure in run.results["figures"] for kind in ("png", "svg", "csv")]
        wanted += [(TABLES / run.slug, table["file"]) for table in run.results["tables"]]
        for folder, relative in wanted:
            source, target = paths.BUILD / run.slug / relative, folder / Path(relative).name
            folder.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)
            placed.add(target)
    return placed


def remove_other_files(folder: Path, keep: set[Path]) -> None:
    """Remove the files in ``folder`` that no run put there now (a run taken out, a figure a
    notebook no longer draws), and the folders left empty, so neither the site nor report/
    keeps them."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders holding them
        if path.is_file() and path not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


# The manifest's fields a reader needs; not `given`, which may be a path on the build machine.
INPUT_COLUMNS = ["name", "source", "file_name", "dataset_version", "sha256", "rows_read", "rows_kept", "rows_flagged",
                 "rows_rejected", "processed_at"]


def write_inputs_csv() -> None:
    """The table of inputs (manifest.json, one row per input, with the full SHA-256) as the
    CSV the methods page links under it. Row counts stay whole numbers where an input (the
    boundaries) has none."""
    manifest = read_manifest()
    frame = pd.DataFrame([{c: item.get(c) for c in INPUT_COLUMNS} for item in manifest["inputs"]])
    counts = [c for c in INPUT_COLUMNS if c.startswith("rows_")]
    atomic.write_csv(TABLES / "inputs.csv", frame.astype({c: "Int64" for c in counts}))


# --- Quarto -----------------------------------------------------------------------------------

def quarto_version(binary: str) -> tuple[int, ...]:
    try:
        text = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReportError(f"cannot run Quarto at {binary} ({exc}).\n{INSTALL_QUARTO}") from None
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise ReportError(f"`{binary} --version` printed {text!r}, not a version.\n{INSTALL_QUARTO}")
    return tuple(int(x) for x in match.groups(default="0"))


def run_quarto(binary: str, output_dir: str, pages: list[str] | None = None) -> tuple[int, str]:
    """`quarto render` of the project, or of some of its pages, into ``output_dir``; returns its
    exit code and its stderr, which is shown as it comes (Quarto's progress) and kept, because
    Quarto only warns about unresolved references and unknown variables.

    Quarto 1.10 renders several pages of a website in one call (`quarto render a.qmd b.qmd
    --output-dir d`), each as in a whole render (byte for byte), and updates the site's
    search.json and sitemap.xml for them, leaving the other pages in ``output_dir`` as they are."""
    process = subprocess.Popen([binary, "render", *(pages or [str(paths.REPORT)]), "--output-dir", output_dir], cwd=paths.REPORT,
                               stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
    lines = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.write(line)
            lines.append(line)
        return process.wait(), "".join(lines)
    finally:
        if process.poll() is None:  # interrupted: stop Quarto too, so nothing writes into report/ afterwards
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def expected_texts() -> list[str]:
    """Ledger totals the PDF must print as the ledger formatted them: the national run's deaths
    (best) and events, when the report has a national run."""
    values = yaml_text.load(VARIABLES.read_text(encoding="utf-8")) if VARIABLES.exists() else {}
    national = (values or {}).get("national", {})
    return [national[key] for key in ("deaths_best", "events") if key in national]


def check_output(output: Path, render_log: str | None, *, missing_tools_fail: bool = False,
                 site_pages: list[str] | None = None, pdf: bool = True) -> bool:
    """Every rendered-report check on ``output`` (site in Chromium, PDF, Quarto's warnings), or
    on the pages ``site_pages`` names (HTML files) and the PDF only if ``pdf``; prints the
    problems and returns True when there are none. A check whose tool is not installed is
    skipped, said in one line, and fails only with ``missing_tools_fail``."""
    from conflict_report.report import checks as report_checks

    problems = report_checks.check_rendered(output, output / PDF_NAME if pdf else None, expected_texts=expected_texts(),
                                            min_pages=MIN_PDF_PAGES, require_a4=True, render_log=render_log,
                                            source_qmd=paths.REPORT / "report.qmd", site_pages=site_pages)
    missing = [p for p in problems if p.kind is report_checks.Kind.TOOL_MISSING]
    failures = problems if missing_tools_fail else [p for p in problems if p not in missing]
    if missing:
        print("rendered-report checks skipped, a tool is missing: " + "; ".join(p.detail for p in missing))
    for problem in failures:
        print(problem, file=sys.stderr)
    return not failures


# The files the site serves from report/ beside its pages (_quarto.yml's `resources:` and the
# files pages link): a partial render copies them itself, and removes those gone from report/.
SITE_FILES = ("figures", "data", "changes-files")


def sync_site_files(site: Path) -> None:
    """Make the site's copies of report/figures, data and changes-files match report/ after a
    partial render: changed files copied, files of runs no longer there removed. A PNG only a
    page shows is there only if a page shows it (Quarto copies it with the page)."""
    for name in SITE_FILES:
        source_root, site_root = paths.REPORT / name, site / name
        for target in sorted(site_root.rglob("*"), reverse=True) if site_root.is_dir() else []:
            source = source_root / target.relative_to(site_root)
            if target.is_file() and not source.is_file():
                target.unlink()
            elif target.is_dir() and not any(target.iterdir()):
                target.rmdir()
        for source in source_root.rglob("*") if source_root.is_dir() else []:
            target = site_root / source.relative_to(source_root)
            served = source.suffix in (".svg", ".csv") or target.exists()
            if source.is_file() and served and (not target.exists() or target.read_bytes() != source.read_bytes()):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)


def render(binary: str, state: render_plan.RenderState, inputs: str, pages_to_render: list[str] | None) -> int:
    """Render into a scratch folder, check it, and only then swap it in: a failed render, or one
    that fails its checks, keeps the last good report (and its render state, so the next `make
    report` renders and checks again).

    ``pages_to_render`` None renders the whole project; a list renders those pages
    into a copy of the last site (Quarto updates the site's search index for them), and only
    they are checked."""
    scratch = paths.REPORT / SCRATCH_OUTPUT
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        if pages_to_render is not None:
            shutil.copytree(paths.REPORT_OUTPUT, scratch, symlinks=True)
        returncode, log = run_quarto(binary, SCRATCH_OUTPUT, pages_to_render)
        if returncode == 0 and pages_to_render is not None:
            # Quarto 1.10 copies the project's `resources:` of a partial render into
            # <output-dir>/_output/ (the configured output-dir inside the given one), not
            # beside the pages: that copy goes, and sync_site_files puts them in their place.
            shutil.rmtree(scratch / paths.REPORT_OUTPUT.name, ignore_errors=True)
            sync_site_files(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"Quarto failed (exit {returncode}); the previous report in report/_output is unchanged.", file=sys.stderr)
        return returncode
    if pages_to_render is None:
        print("checking the new render (site in Chromium, PDF, Quarto's warnings) before it replaces report/_output")
        passed = check_output(scratch, log)
    else:
        outputs = [render_plan.output_name(page) for page in pages_to_render]
        site_pages = [name for name in outputs if name.endswith(".html")]
        print(f"checking the new render of {', '.join(outputs)} (in Chromium, PDF, Quarto's warnings) before it replaces report/_output")
        passed = check_output(scratch, log, site_pages=site_pages, pdf=PDF_NAME in outputs)
    if not passed:
        print(f"The new render failed its checks (above); it is left in report/{SCRATCH_OUTPUT} to look at, "
              "and report/_output is unchanged.", file=sys.stderr)
        return 1
    atomic.write_text(scratch / render_plan.STATE_NAME, state.as_json())
    stamp.write(stamp.rendered_stamp(scratch), inputs)
    old = paths.REPORT / "_output.old"
    shutil.rmtree(old, ignore_errors=True)
    if paths.REPORT_OUTPUT.exists():
        paths.REPORT_OUTPUT.rename(old)
    scratch.rename(paths.REPORT_OUTPUT)
    shutil.rmtree(old, ignore_errors=True)
    atomic.write_text(RENDER_LOG, log)
    return 0


def check_main() -> int:
    """`make render-check`: the checks `make report` runs, alone, on report/_output."""
    if not (paths.REPORT_OUTPUT / "index.html").exists():
        print("error: no rendered report in report/_output; run `make report` first", file=sys.stderr)
        return 1
    log = RENDER_LOG.read_text(encoding="utf-8") if RENDER_LOG.exists() else None
    if check_output(paths.REPORT_OUTPUT, log, missing_tools_fail=True):
        print("rendered report passed all checks")
        return 0
    return 1


def main(render_report: bool = True) -> int:
    from conflict_report.report import sources_check as report_sources

    runs = load_report_runs()
    write_sources(runs)
    problems = report_sources.check()
    if problems:
        print("The report's sources have problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    if not render_report:
        stamp.write(stamp.SOURCES_STAMP, stamp.fingerprint(None))
        print("report sources written and checked (report/_generated, report/_variables.yml)")
        return 0
    binary = stamp.find_quarto()
    if binary is None:
        print(f"error: Quarto not found on PATH (nor QUARTO=...).\n{INSTALL_QUARTO}", file=sys.stderr)
        return 3
    version = quarto_version(binary)
    if version[:2] < QUARTO_MIN_VERSION:
        print(f"error: Quarto {'.'.join(map(str, version))} is older than {'.'.join(map(str, QUARTO_MIN_VERSION))}, "
              f"which this report needs (reviewed with {'.'.join(map(str, QUARTO_REVIEWED_VERSION))}).\n{INSTALL_QUARTO}", file=sys.stderr)
        return 3
    shutil.rmtree(paths.REPORT / SCRATCH_OUTPUT, ignore_errors=True)  # a render that failed its checks: rendered again below
    state = render_plan.current_state(".".join(map(str, version)))
    last = render_plan.read_state(paths.REPORT_OUTPUT) if (paths.REPORT_OUTPUT / PDF_NAME).exists() else None
    todo = render_plan.pages_to_render(last, state)
    inputs = stamp.fingerprint(binary)
    if todo == []:
        stamp.write(stamp.rendered_stamp(), inputs)  # the next `make report` with nothing changed stops sooner
        print("report/_output is up to date (nothing the render reads has changed)")
        return 0
    if todo is None:
        print("report sources written and checked (report/_generated, report/_variables.yml); rendering the whole site and the PDF")
    else:
        print(f"report sources written and checked; rendering what changed: {', '.join(todo)}")
    status = render(binary, state, inputs, todo)
    if status == 0:
        print(f"report written: report/_output/index.html and report/_output/{PDF_NAME}")
    return status


def serve(port: int = 8000) -> int:
    """Serve the rendered site on 127.0.0.1 only (search needs http://, not file://)."""
    if not (paths.REPORT_OUTPUT / "index.html").exists():
        print("error: no rendered report in report/_output; run `make report` first", file=sys.stderr)
        return 1
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(paths.REPORT_OUTPUT))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"error: port {port} on 127.0.0.1 is already in use (another server?). "
              f"Stop it, or choose another port: make serve PORT={port + 1}  (python -m conflict_report serve --port {port + 1})",
              file=sys.stderr)
        return 1
    with server:
        print(f"Serving the report at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
