"""The report's sources, built from the full sweep over the real data, checked without
Quarto; the behaviour of `make report` without Quarto; Markdown escaping of real headlines."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import DATA_ENV, REPO, UCDP_GED_FILE, copy_project, find_quarto, git, render_log, run_cli

from conflict_report.analysis import tables as report_tables

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(swept_project) -> Path:
    run_cli(["report", "--no-render"], root=swept_project)
    return swept_project


def without_quarto_env() -> dict:
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "quarto").exists())
    return {"PATH": path, "QUARTO": ""}


def test_sources_are_written_and_pass_the_checks(prepared):
    report = prepared / "report"
    variables = yaml.safe_load((report / "_variables.yml").read_text(encoding="utf-8"))
    runs = yaml.safe_load((report / "runs.yml").read_text(encoding="utf-8"))["runs"]
    for run in runs:
        assert run["name"].replace("-", "_") in variables, run["name"]
        if run["notebook"] == "region_profile":
            page = report / f"governorate-{run['name']}.qmd"
            assert page.exists()
            assert run["parameters"]["governorate"] in page.read_text(encoding="utf-8")
    assert variables["national"]["deaths_best"] == "112,337"
    assert variables["national"]["deaths"] == "112,337 (range 104,929–119,020)"
    for figure in (report / "figures").rglob("*.png"):
        assert figure.stat().st_size > 10_000


def test_a_governorate_added_to_runs_gets_its_page(prepared, tmp_path):
    """A governorate taken out of runs.yml loses its page, and gets it back when added."""
    root = tmp_path / "copy"
    shutil.copytree(prepared, root, symlinks=True)
    runs_file = root / "report" / "runs.yml"
    document = yaml.safe_load(runs_file.read_text(encoding="utf-8"))
    document["runs"] = [r for r in document["runs"] if r["name"] != "gov-quneitra"]
    runs_file.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    run_cli(["report", "--no-render"], root=root)
    assert not (root / "report" / "governorate-gov-quneitra.qmd").exists()
    assert "gov_quneitra" not in yaml.safe_load((root / "report" / "_variables.yml").read_text(encoding="utf-8"))


PLANTED = {
    "_sections/overview.qmd": ("\n{{< var national.no_such_number >}}\n\n{{< include _generated/no-such-partial.qmd >}}\n\n"
                               "See @fig-nowhere and [@nobody2020].\n\n![x](figures/missing.png){#fig-national-monthly}\n"),
}


def test_the_checks_catch_planted_mistakes(prepared, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(prepared, root, symlinks=True)
    for name, text in PLANTED.items():
        with open(root / "report" / name, "a", encoding="utf-8") as fh:
            fh.write(text)
    config = yaml.safe_load((root / "report" / "_quarto.yml").read_text(encoding="utf-8"))
    config["format"]["docxx"] = {}
    (root / "report" / "_quarto.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    done = run_cli(["report", "--no-render"], root=root, check=False)
    assert done.returncode == 1
    for expected in ("overview.qmd: variable national.no_such_number is not in _variables.yml",
                     "include _generated/no-such-partial.qmd does not exist",
                     "cross-reference @fig-nowhere has no label",
                     "citation @nobody2020 is not in references.bib",
                     "image figures/missing.png does not exist",
                     "label fig-national-monthly is defined more than once",
                     "unknown format docxx"):
        assert expected in done.stderr, expected


def test_no_number_is_typed_into_the_text():
    """Numbers in the report's prose come from the ledger; only years, dates, version-like
    numbers and quotations of the article may be typed."""
    texts = [*REPO.joinpath("report", "_sections").glob("*.qmd"), *REPO.joinpath("report", "_templates").glob("*.qmd"),
             *REPO.joinpath("report").glob("*.qmd")]
    for path in texts:
        text = re.sub(r"\{\{<.*?>\}\}", "", path.read_text(encoding="utf-8"))
        text = re.sub(r'"[^"]*"|“[^”]*”|---.*?---', "", text, flags=re.S)
        numbers = re.findall(r"(?<![\w.-])\d+(?:,\d{3})*(?:\.\d+)?%?(?![\w-])", text)
        allowed = [n for n in numbers if re.fullmatch(r"(19|20)\d\d|\d{1,2}|1\.5%|\d\.\d", n)]  # years, small ordinals, 1.5% tolerance, licence versions
        assert sorted(set(numbers) - set(allowed)) == [], f"{path.name}: numbers typed by hand"


def test_make_report_without_quarto_builds_everything_then_says_what_to_install(prepared):
    variables = prepared / "report" / "_variables.yml"
    variables.unlink()
    done = run_cli(["report"], root=prepared, env=without_quarto_env(), check=False)
    assert done.returncode == 3
    assert "Quarto not found" in done.stderr
    for advice in ("conda env create -f environment.yml", "pip install 'quarto-cli", "quarto.org"):
        assert advice in done.stderr
    assert variables.exists(), "the sources are written before the render is attempted"


def test_an_old_quarto_is_refused_with_its_version(prepared, tmp_path):
    fake = tmp_path / "quarto"
    fake.write_text("#!/bin/sh\necho 1.3.450\n")
    fake.chmod(0o755)
    done = run_cli(["report"], root=prepared, env={"QUARTO": str(fake)}, check=False)
    assert done.returncode == 3
    assert "Quarto 1.3.450 is older than 1.5" in done.stderr


def real_headlines_with(character: str) -> list[str]:
    with duckdb.connect() as con:
        return [r[0] for r in con.execute(f"select source_headline from read_csv('{UCDP_GED_FILE.as_posix()}', all_varchar=true) "
                                          f"where source_headline like '%{character}%'").fetchall()]


def test_real_headlines_with_pipes_stay_in_their_cell():
    headlines = real_headlines_with("|")
    assert len(headlines) == 4  # the shared file's README-level fact, counted here independently
    table = report_tables.markdown(__import__("pandas").DataFrame({"n": range(len(headlines)), "headline": headlines}))
    for line in table.splitlines()[2:]:
        unescaped = re.findall(r"(?<!\\)\|", line)
        assert len(unescaped) == 3, line  # | n | headline |


@pytest.mark.parametrize("text, forbidden", [
    ("<script>alert(1)</script>", "<script>"),
    ("see @sundberg2013ged here", " @sundberg"),
    ("**bold** and [link](http://x)", "**bold**"),
])
def test_markup_in_source_text_is_escaped(text, forbidden):
    escaped = report_tables.escape(text)
    assert forbidden not in escaped
    assert escaped.replace("\\", "") == text


def test_make_report_checks_its_render_before_the_swap(rendered_project):
    """The session's real `make report`: its checks ran on the new render and passed, it was
    swapped in, the next `make report` has nothing to do, and git sees nothing left behind."""
    printed = render_log(rendered_project).read_text(encoding="utf-8")
    assert "checking the new render" in printed
    assert printed.index("checking the new render") < printed.index("report written: report/_output/index.html")
    assert "checks skipped" not in printed, printed  # every check ran: Chromium and poppler are here
    output = rendered_project / "report" / "_output"
    assert sorted(p.name for p in output.glob("*.pdf")) == ["report.pdf"]
    assert not (rendered_project / "report" / "_output.new").exists()
    assert git(rendered_project, "status", "--porcelain", "--untracked-files=all") == ""
    again = run_cli(["report"], root=rendered_project, env={"QUARTO": find_quarto()})
    assert "report/_output is up to date" in again.stdout


def test_a_render_that_fails_its_checks_keeps_the_last_good_report(rendered_project, tmp_path):
    """An unknown metadata key (which the sources check does not look for) only makes Quarto warn
    and exit 0: the checks of its stderr and of the pages fail the run, the last good report and
    its render key stay (so the next `make report` renders and checks again), and the failed
    render is kept aside to look at. (An unknown `var` is already refused before the render.)"""
    root = copy_project(rendered_project, tmp_path / "project")
    output = root / "report" / "_output"
    good = {name: (output / name).read_bytes() for name in ("report.pdf", "index.html", ".render-state.json", ".inputs-stamp")}
    with open(root / "report" / "_sections" / "overview.qmd", "a", encoding="utf-8") as section:
        section.write("\n{{< meta nope >}}\n")
    git(root, "commit", "--quiet", "--all", "-m", "an unknown metadata key")
    done = run_cli(["report"], root=root, env={"QUARTO": find_quarto()}, check=False, timeout=1800)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "render warning" in done.stderr and "Unknown meta key nope" in done.stderr
    assert "Quarto failure marker: unknown metadata key '?meta:nope'" in done.stderr
    assert "report/_output is unchanged" in done.stderr
    assert {name: (output / name).read_bytes() for name in good} == good
    assert (root / "report" / "_output.new" / "index.html").exists()
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""


def test_an_interrupted_render_leaves_git_status_clean_and_the_last_report(rendered_project, tmp_path):
    """Ctrl-C while Quarto writes pages into report/: nothing shows in `git status`, and the last
    good report stays."""
    root = copy_project(rendered_project, tmp_path / "project")
    good_pdf = (root / "report" / "_output" / "report.pdf").read_bytes()
    with open(root / "report" / "_sections" / "overview.qmd", "a", encoding="utf-8") as section:
        section.write("\nA sentence added so that the report renders again.\n")
    git(root, "commit", "--quiet", "--all", "-m", "a change to render")
    env = {**os.environ, **DATA_ENV, "CONFLICT_REPORT_ROOT": str(root), "QUARTO": find_quarto()}
    process = subprocess.Popen([sys.executable, "-m", "conflict_report", "report"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Interrupt once Quarto has begun writing pages (it renders each page beside its source first).
        for _ in range(3000):  # polls, at most about 10 minutes
            if process.poll() is not None or any((root / "report").glob("*.html")):
                break
            time.sleep(0.2)
        assert process.poll() is None, "the render finished before it could be interrupted"
        assert any((root / "report").glob("*.html")), "Quarto wrote no page into report/ in 10 minutes"
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: to the whole foreground group
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode != 0
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    assert (root / "report" / "_output" / "report.pdf").read_bytes() == good_pdf
