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
import hashlib
import http.server
import json
import os
import re
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
import yaml

from conflict_report import atomic, paths
from conflict_report.analysis import tables as report_tables
from conflict_report.analysis.results import ACLED_LEFT_OUT
from conflict_report.errors import PipelineError

GENERATED = paths.REPORT / "_generated"
FIGURES = paths.REPORT / "figures"
TABLES = paths.REPORT / "data"
TEMPLATES = paths.REPORT / "_templates"
VARIABLES = paths.REPORT / "_variables.yml"
RENDER_KEY = paths.REPORT_OUTPUT / ".render-key"
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


@dataclass(frozen=True)
class ReportRun:
    name: str  # the run's key in report/runs.yml, e.g. gov-aleppo
    notebook: str
    slug: str
    results: dict

    @property
    def key(self) -> str:
        """The run's namespace in _variables.yml (Quarto var keys: letters, digits, underscores)."""
        return self.name.replace("-", "_")

    @property
    def title(self) -> str:
        p = self.results["parameters"]
        return p.get("governorate") or p.get("actor") or p["country"]


def load_report_runs() -> list[ReportRun]:
    from conflict_report.runs import sweep

    runs = []
    missing = []
    for run in sweep.planned_runs():
        results_file = paths.BUILD / run.slug / "results.json"
        # A run that failed after an earlier success keeps its old results.json but no run key:
        # the report must not quote numbers from code or data that have since changed.
        if not run.is_up_to_date():
            missing.append(f"{run.name} (build/{run.slug}/)")
            continue
        runs.append(ReportRun(run.name, run.spec.notebook, run.slug, json.loads(results_file.read_text(encoding="utf-8"))))
    if missing:
        raise ReportError("these runs have no up-to-date results: " + ", ".join(missing) + ". Run `make notebooks` first (a failed run is listed there).")
    return runs


# --- the ledger as Quarto variables ------------------------------------------------------------

def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.ROOT, capture_output=True, text=True).stdout.strip()
        return commit + ("-modified" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def variables(runs: list[ReportRun]) -> dict:
    """Display text only: Quarto prints values as YAML parsed them (112337 -> 112337, 0.50 ->
    0.5), so every value is stored as the string the ledger formatted."""
    data = {run.key: {key: str(item["display"]) for key, item in run.results["values"].items()} for run in runs}
    data["build"] = {"date": dt.date.today().isoformat(), "commit": git_commit()}
    return data


# --- generated partials -----------------------------------------------------------------------

def _attribute(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def figure_block(run: ReportRun, figure: dict, label_prefix: str = "") -> str:
    label = f"fig-{label_prefix}{run.name}-{figure['name'].replace('_', '-')}"
    folder = f"figures/{run.slug}"
    image = f"{folder}/{Path(figure['png']).name}"
    links = [("Data (CSV)", f"{folder}/{Path(figure['csv']).name}"), ("Figure (SVG)", f"{folder}/{Path(figure['svg']).name}")]
    return (f"![{report_tables.escape(figure['caption'])}]({image}){{#{label} fig-alt=\"{_attribute(figure['alt'])}\"}}\n"
            + data_links(links, licence_line(run, figure)))


# The licence of the boundaries, beside the data links of every map (figures that declare them).
BOUNDARIES_LICENCE = "boundaries: UN OCHA / UNCS COD-AB via HDX, CC BY 3.0 IGO"


def licence_line(run: ReportRun, item: dict) -> str:
    """'Source: UCDP GED 25.1, CC BY 4.0', as under the run's figures, plus the boundaries'
    licence on maps and the note that ACLED events are left out of event-level data."""
    parts = [item.get("credit") or run.results["values"]["source_line"]["display"]]
    if item.get("boundaries"):
        parts.append(BOUNDARIES_LICENCE)
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
    "quality_flags": report_tables.flags_for_display,
    "curated_events": report_tables.curated_for_display,
    "claims_checked": report_tables.claims_for_display,
}


# Notes printed under a table (the reasoning its rows point to by number).
TABLE_NOTES = {"claims_checked": report_tables.claims_notes}
# Room for a one-word header ("Strikes") or a short phrase, which Typst cannot break.
TABLE_MIN_WIDTHS = {"claims_checked": report_tables.CLAIMS_MIN_WIDTHS, "curated_events": {"Strikes": 12, "Civilian deaths": 16, "Deaths": 18}}
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
    return text + data_links([("Data (CSV)", f"data/{run.slug}/{Path(table['file']).name}")], licence_line(run, table))


def manifest_table() -> str:
    manifest = json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
    rows = pd.DataFrame([{
        "Input": item["file_name"],
        "Version": item["dataset_version"],
        "SHA-256": item["sha256"][:16] + "…",
        "Rows read / kept / flagged / quarantined": (f"{item['rows_read']:,} / {item['rows_kept']:,} / {item['rows_flagged']:,} / {item['rows_rejected']:,}"
                                                     if "rows_read" in item else "–"),
        "Processed": item["processed_at"][:10],
    } for item in manifest["inputs"]])
    return (report_tables.markdown(rows, align_numbers=False) + "\n: The inputs of this report, from `data/processed/manifest.json` {#tbl-inputs}\n"
            + data_links([("Data (CSV)", "data/inputs.csv")], "Licences: UCDP data CC BY 4.0; OCHA boundaries CC BY 3.0 IGO; curated events: see their citations."))


def _fill(template: str, run: ReportRun) -> str:
    return string.Template((TEMPLATES / template).read_text(encoding="utf-8")).safe_substitute(run=run.key, file=run.name, name=run.title)


def generated_files(runs: list[ReportRun]) -> dict[Path, str]:
    """Every generated source file and its text."""
    files: dict[Path, str] = {}
    for run in runs:
        for figure in run.results["figures"]:
            files[GENERATED / f"{run.name}-{figure['name']}.qmd"] = figure_block(run, figure)
            if run.name == "national":
                files[GENERATED / f"summary-{run.name}-{figure['name']}.qmd"] = figure_block(run, figure, "summary-")
        for table in run.results["tables"]:
            files[GENERATED / f"{run.name}-table-{table['name']}.qmd"] = table_block(run, table)
    governorates = [r for r in runs if r.notebook == "region_profile"]
    actors = [r for r in runs if r.notebook == "actor_profile"]
    for run in governorates:
        files[paths.REPORT / f"governorate-{run.name}.qmd"] = _fill("governorate.qmd", run)
    files[GENERATED / "governorates-intro.qmd"] = governorates_intro(governorates)
    files[GENERATED / "governorates-compact.qmd"] = (
        "The governorates are ranked in @tbl-national-governorates. For each: its share of the national total, and deaths per month.\n\n"
        + "".join(_fill("governorate-compact.qmd", r) for r in governorates))
    files[GENERATED / "actors.qmd"] = "".join(_fill("actor.qmd", r) for r in actors)
    files[GENERATED / "actors-compact.qmd"] = "".join(_fill("actor-compact.qmd", r) for r in actors)
    files[GENERATED / "manifest-table.qmd"] = manifest_table()
    return files


def governorates_intro(governorates: list[ReportRun]) -> str:
    lines = ["Each governorate has a page of its own; the ranking is in the [country overview](overview.qmd).\n"]
    for run in sorted(governorates, key=lambda r: r.title):
        lines.append(f"- [{report_tables.escape(run.title)}](governorate-{run.name}.qmd): "
                     f"{{{{< var {run.key}.deaths >}}}} deaths, {{{{< var {run.key}.share_of_national >}}}} of the national total")
    return "\n".join(lines) + "\n"


def write_sources(runs: list[ReportRun]) -> None:
    """Write the generated files (and remove stale ones, e.g. of a governorate taken out)."""
    files = generated_files(runs)
    for stale in [*GENERATED.glob("*.qmd"), *paths.REPORT.glob("governorate-*.qmd")]:
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic.write_text(path, text)
    copy_run_files(runs)
    write_inputs_csv()
    text = yaml.safe_dump(variables(runs), allow_unicode=True, sort_keys=True, width=200)
    atomic.write_text(VARIABLES, "# Written by `python -m conflict_report report` from build/*/results.json. Do not edit.\n" + text)


def copy_run_files(runs: list[ReportRun]) -> None:
    """The runs' figures (PNG, SVG, CSV) into report/figures/<slug>/ and their tables (CSV)
    into report/data/<slug>/, inside the project, so the site serves every file it links."""
    for run in runs:
        wanted = [(FIGURES / run.slug, figure[kind]) for figure in run.results["figures"] for kind in ("png", "svg", "csv")]
        wanted += [(TABLES / run.slug, table["file"]) for table in run.results["tables"]]
        for folder, relative in wanted:
            source, target = paths.BUILD / run.slug / relative, folder / Path(relative).name
            folder.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)


# The manifest's fields a reader needs; not `given`, which may be a path on the build machine.
INPUT_COLUMNS = ["name", "source", "file_name", "dataset_version", "sha256", "rows_read", "rows_kept", "rows_flagged",
                 "rows_rejected", "processed_at"]


def write_inputs_csv() -> None:
    """The table of inputs (manifest.json, one row per input, with the full SHA-256) as the
    CSV the methods page links under it. Row counts stay whole numbers where an input (the
    boundaries) has none."""
    manifest = json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
    frame = pd.DataFrame([{c: item.get(c) for c in INPUT_COLUMNS} for item in manifest["inputs"]])
    counts = [c for c in INPUT_COLUMNS if c.startswith("rows_")]
    atomic.write_csv(TABLES / "inputs.csv", frame.astype({c: "Int64" for c in counts}))


# --- Quarto -----------------------------------------------------------------------------------

def find_quarto() -> str | None:
    return os.environ.get("QUARTO") or shutil.which("quarto")


def quarto_version(binary: str) -> tuple[int, ...]:
    try:
        text = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReportError(f"cannot run Quarto at {binary} ({exc}).\n{INSTALL_QUARTO}") from None
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise ReportError(f"`{binary} --version` printed {text!r}, not a version.\n{INSTALL_QUARTO}")
    return tuple(int(x) for x in match.groups(default="0"))


def render_key() -> str:
    """Hash of everything the render reads: a rebuild with nothing changed skips Quarto."""
    digest = hashlib.sha256()
    for path in sorted(p for p in paths.REPORT.rglob("*") if p.is_file() and "_output" not in p.parts and ".quarto" not in p.parts):
        if path == VARIABLES:
            text = re.sub(r"(?m)^  date: .*$", "", path.read_text(encoding="utf-8"))  # the build date alone is no reason to render
            digest.update(text.encode())
        else:
            digest.update(path.relative_to(paths.REPORT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def render(binary: str) -> int:
    """Render into a scratch folder and swap it in, so a failed render keeps the last good site."""
    scratch = paths.REPORT / "_output.new"
    shutil.rmtree(scratch, ignore_errors=True)
    result = subprocess.run([binary, "render", str(paths.REPORT), "--output-dir", scratch.name], cwd=paths.REPORT)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"Quarto failed (exit {result.returncode}); the previous report in report/_output is unchanged.", file=sys.stderr)
        return result.returncode
    old = paths.REPORT / "_output.old"
    shutil.rmtree(old, ignore_errors=True)
    if paths.REPORT_OUTPUT.exists():
        paths.REPORT_OUTPUT.rename(old)
    scratch.rename(paths.REPORT_OUTPUT)
    shutil.rmtree(old, ignore_errors=True)
    return 0


def main(render_report: bool = True) -> int:
    from conflict_report.report import sources_check as report_sources

    runs = load_report_runs()
    write_sources(runs)
    problems = report_sources.check()
    if problems:
        print("The report's sources have problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("report sources written and checked (report/_generated, report/_variables.yml)")
    if not render_report:
        return 0
    binary = find_quarto()
    if binary is None:
        print(f"error: Quarto not found on PATH (nor QUARTO=...).\n{INSTALL_QUARTO}", file=sys.stderr)
        return 3
    version = quarto_version(binary)
    if version[:2] < QUARTO_MIN_VERSION:
        print(f"error: Quarto {'.'.join(map(str, version))} is older than {'.'.join(map(str, QUARTO_MIN_VERSION))}, "
              f"which this report needs (reviewed with {'.'.join(map(str, QUARTO_REVIEWED_VERSION))}).\n{INSTALL_QUARTO}", file=sys.stderr)
        return 3
    key = render_key()
    if RENDER_KEY.exists() and RENDER_KEY.read_text().strip() == key and (paths.REPORT_OUTPUT / PDF_NAME).exists():
        print("report/_output is up to date (nothing the render reads has changed)")
        return 0
    status = render(binary)
    if status == 0:
        atomic.write_text(RENDER_KEY, key + "\n")
        print(f"report written: report/_output/index.html and report/_output/{PDF_NAME}")
    return status


def serve(port: int = 8000) -> int:
    """Serve the rendered site on 127.0.0.1 only (search needs http://, not file://)."""
    if not (paths.REPORT_OUTPUT / "index.html").exists():
        print("error: no rendered report in report/_output; run `make report` first", file=sys.stderr)
        return 1
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(paths.REPORT_OUTPUT))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"Serving the report at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
