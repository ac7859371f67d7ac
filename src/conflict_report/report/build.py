"""`make report`: write the report's generated sources from the runs' results, check them,
and render the HTML site and the PDF with Quarto. Quarto renders stored results; it never
re-runs the analysis.

What this writes (all ignored by git, rebuilt every time from build/):
- report/_variables.yml: every run's ledger values as display text (Quarto's {{< var >}}),
  plus the build's date and commit;
- report/figures/<slug>/: the runs' figure files, inside the project so both formats find them;
- report/_generated/*.qmd: one partial per figure and table, and the governorate and actor
  sections made from report/_templates/ for each run in report/runs.yml;
- report/governorate-<run>.qmd: a page per governorate run."""

from __future__ import annotations

import datetime as dt
import errno
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
from conflict_report.errors import PipelineError

GENERATED = paths.REPORT / "_generated"
FIGURES = paths.REPORT / "figures"
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
    slug: str  # its folder in build/ (the run's name)
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
        results_file = run.folder / "results.json"
        # A run that failed after an earlier success keeps its old results.json but no run key:
        # the report must not quote numbers from code or data that have since changed.
        if not run.is_up_to_date():
            missing.append(f"{run.name} (build/{run.folder.name}/)")
            continue
        runs.append(ReportRun(run.name, run.spec.notebook, run.folder.name, json.loads(results_file.read_text(encoding="utf-8"))))
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
    image = f"figures/{run.slug}/{Path(figure['png']).name}"
    return f"![{report_tables.escape(figure['caption'])}]({image}){{#{label} fig-alt=\"{_attribute(figure['alt'])}\"}}\n"


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


def table_block(run: ReportRun, table: dict) -> str:
    frame = pd.read_csv(paths.BUILD / run.slug / table["file"], keep_default_na=False, na_values=[""])
    shown = TABLE_DISPLAY.get(table["name"], report_tables.generic_for_display)(frame)
    label = f"tbl-{run.name}-{table['name'].replace('_', '-')}"
    return report_tables.markdown(shown) + f"\n: {report_tables.escape(table['caption'])} {{#{label}}}\n" + inconsistent_note_block(shown)


def inconsistent_note_block(shown: pd.DataFrame) -> str:
    """The note under a table with marked rows, linking to the methods' flag table: on the
    site a link to its page, in the PDF a link within the one document that holds it."""
    web = report_tables.inconsistent_note(shown, f"[the table of flags](methods.qmd#{report_tables.FLAG_TABLE_LABEL})")
    if not web:
        return ""
    pdf = report_tables.inconsistent_note(shown, f"[the table of flags in the methods](#{report_tables.FLAG_TABLE_LABEL})")
    return (f"\n::: {{.content-visible when-format=\"html\"}}\n{web}\n:::\n\n"
            f"::: {{.content-visible unless-format=\"html\"}}\n{pdf}\n:::\n")


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
    return report_tables.markdown(rows, align_numbers=False) + "\n: The inputs of this report, from `data/processed/manifest.json` {#tbl-inputs}\n"


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
    for run in runs:
        target = FIGURES / run.slug
        target.mkdir(parents=True, exist_ok=True)
        for figure in run.results["figures"]:
            for ext in ("png", "svg"):
                source = paths.BUILD / run.slug / figure[ext]
                if not (target / source.name).exists() or (target / source.name).read_bytes() != source.read_bytes():
                    shutil.copyfile(source, target / source.name)
    text = yaml.safe_dump(variables(runs), allow_unicode=True, sort_keys=True, width=200)
    atomic.write_text(VARIABLES, "# Written by `python -m conflict_report report` from build/*/results.json. Do not edit.\n" + text)


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


# Written by Quarto itself during a render (it lists its own folders in report/.gitignore):
# hashing it would make the second `make report` after a fresh clone render again.
NOT_READ_BY_RENDER = {".gitignore"}


def render_key() -> str:
    """Hash of everything the render reads: a rebuild with nothing changed skips Quarto."""
    digest = hashlib.sha256()
    for path in sorted(p for p in paths.REPORT.rglob("*") if p.is_file() and "_output" not in p.parts and ".quarto" not in p.parts
                       and p.relative_to(paths.REPORT).as_posix() not in NOT_READ_BY_RENDER):
        if path == paths.REPORT / "runs.yml":
            # The render reads the runs, not their comments (the pages come from the runs' results).
            digest.update(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), sort_keys=True).encode())
        elif path == VARIABLES:
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
    if not render_report:
        print("report sources written and checked (report/_generated, report/_variables.yml)")
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
    print("report sources written and checked (report/_generated, report/_variables.yml); rendering")
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
