"""What a reader and a researcher see around the numbers (issue 16): one period, the data's
coverage; flagged rows marked; figures that fit their canvas; parameters that cannot silently
mean something else; and the small things a newcomer meets (README, headers, serve, no-ops)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from conftest import DATA_ENV, REPO, make_scratch_project, run_cli

from conflict_report.analysis import figures, views
from conflict_report.analysis import tables as report_tables
from conflict_report.analysis.params import RunParameters
from conflict_report.errors import ParameterError
from conflict_report.run import unknown_parameter_names


def in_project(root: Path, script: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Python run against a scratch project (the package finds its data through the root)."""
    env = {**os.environ, **DATA_ENV, "CONFLICT_REPORT_ROOT": str(root)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


# --- one period: the data's coverage ------------------------------------------------------------

def test_the_period_is_the_parameters_clipped_to_what_the_source_covers(built_data):
    events = pd.read_parquet(built_data / "data" / "processed" / "events.parquet")
    ged = events[events["source"] == "ucdp_ged"]
    last_start = ged["date_start"].max()
    assert ged["date_end"].max() > last_start  # an event spills past the extract's last day
    period = views.covered_period(events, RunParameters("overview"))
    assert (period.start, period.end) == (ged["date_start"].min(), last_start)
    assert period.display == "1 January 2016 to 30 November 2019"  # the extract's file name says 20160101_20191130
    assert period.year_label(2019) == "2019 (1 January to 30 November)" and period.year_label(2018) == "2018"
    assert period.year_is_partial(2019) and not period.year_is_partial(2016)
    assert not period.month_is_partial("2019-11")
    # Curated rows alone (the 2014 case study) are a few events, not a coverage: no clipping.
    curated = views.covered_period(events, RunParameters("case_study", start=pd.Timestamp("2014-11-01").date(),
                                                         end=pd.Timestamp("2014-11-30").date()))
    assert curated.display == "1 November 2014 to 30 November 2014"
    with pytest.raises(ParameterError, match=r"no source has events in Syria in this period.*UCDP GED: 1 January 2016 to 30 November 2019"):
        views.covered_period(events, RunParameters("overview", start=pd.Timestamp("2021-01-01").date(), end=pd.Timestamp("2022-12-31").date()))


def test_monthly_series_stops_at_the_period_end_and_still_sums_to_the_total():
    frame = pd.DataFrame({
        "date_start": pd.to_datetime(["2019-11-30", "2019-11-10", "2019-11-01"]),
        "date_end": pd.to_datetime(["2019-12-01", "2019-11-10", "2019-11-30"]),
        "date_precision": [1, 1, 4],
        "deaths_low": [10, 3, 30], "deaths_best": [14, 4, 30], "deaths_high": [20, 5, 40],
    })
    period = views.Period(pd.Timestamp("2016-01-01"), pd.Timestamp("2019-11-30"))
    table = views.monthly(frame, period)
    # Every month of the period (clipped to what the sources cover): a month without events in
    # it is a real zero; none past its end.
    assert table["month"].tolist() == pd.period_range("2016-01", "2019-11", freq="M").strftime("%Y-%m").tolist()
    assert (table.loc[table["month"] != "2019-11", "deaths_best"] == 0).all()
    assert table["deaths_best"].sum() == pytest.approx(48)
    assert not table["partial"].any()
    assert views.monthly(frame)["month"].tolist() == ["2019-11", "2019-12"]  # what the charts drew before
    ends_mid_month = views.Period(pd.Timestamp("2019-11-01"), pd.Timestamp("2019-11-20"))
    mid_month = views.monthly(frame[frame["date_start"] <= ends_mid_month.end], ends_mid_month)
    assert mid_month["partial"].tolist() == [True]


# --- flagged rows marked --------------------------------------------------------------------------

def test_rows_with_inconsistent_estimates_are_marked_and_the_note_links_to_the_flag_table():
    table = pd.DataFrame({"admin1": ["Aleppo", "Idleb", "Homs", "Unknown"], "events": [1, 2, 3, 4],
                          "deaths_best": [142, 107, 2_091, 50], "deaths_low": [177, 107, 2_094, 40],
                          "deaths_high": [177, 84, 2_258, 60], "deaths_civilians": [0, 0, 0, 0]})
    shown = report_tables.ranked_for_display(table, "admin1", "Governorate")
    cells = shown["Deaths, best (low–high)"].tolist()
    assert [report_tables.INCONSISTENT_MARK in c for c in cells] == [True, True, True, False]
    assert shown["Governorate"].iloc[-1] == "No governorate given"  # as the charts say
    from conflict_report.report.build import inconsistent_note_block

    note = inconsistent_note_block(shown)
    assert f"(methods.qmd#{report_tables.FLAG_TABLE_LABEL})" in note  # the site: a link to the methods page
    assert f"(#{report_tables.FLAG_TABLE_LABEL})" in note  # the PDF: a link within the one document
    assert inconsistent_note_block(shown.iloc[[3]]) == ""


# --- figures that fit -----------------------------------------------------------------------------

def test_a_title_past_the_canvas_is_found_and_a_wrapped_one_fits():
    figures.apply_house_style()
    long_title = "Deaths per year by type of violence, events with Government of Syria as a side, Syria"
    fig, ax = plt.subplots()
    ax.set_title(long_title)
    fig.tight_layout()
    assert any("Government of Syria" in problem for problem in figures.text_outside_canvas(fig))
    ax.set_title(long_title, wrap=True)
    figures.fit_inside(fig)
    assert figures.text_outside_canvas(fig) == []
    plt.close(fig)


def test_save_writes_the_print_drawing_or_refuses(tmp_path):
    """save() writes the 300-dpi drawing it checked, with its own PNG writer: an opaque figure
    as an RGB PNG with its dpi, a see-through one as RGBA, the pixels savefig draws; a title that cannot fit is an error that names it and
    writes nothing. (The sweep's figures, Rural Damascus's map among them, whose title the
    check moves inside the canvas, are measured again in the test below.)"""
    import io

    import numpy as np
    from PIL import Image

    figures.apply_house_style()
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [3, 5])
    ax.set_title("Two bars")
    written = figures.save(fig, tmp_path, "bars")
    with Image.open(tmp_path / written["png"]) as png:
        assert png.mode == "RGB" and png.size == (2250, 1260) and round(png.info["dpi"][0]) == figures.PRINT_DPI
        pixels = np.asarray(png)
    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=figures.PRINT_DPI)  # what savefig draws of it
    with Image.open(reference) as drawn:
        assert drawn.mode == "RGBA" and (np.asarray(drawn.convert("RGB")) == pixels).all()

    fig, ax = plt.subplots()  # a figure with a see-through background keeps its alpha channel
    fig.patch.set_alpha(0)
    ax.plot([0, 1], [1, 0])
    written = figures.save(fig, tmp_path, "see-through")
    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=figures.PRINT_DPI)
    with Image.open(tmp_path / written["png"]) as png, Image.open(reference) as drawn:
        assert png.mode == drawn.mode == "RGBA" and (np.asarray(png) == np.asarray(drawn)).all()

    fig, ax = plt.subplots()
    ax.set_title("An unwrapped title far too long for any canvas of this width, " * 3)
    with pytest.raises(ValueError, match="unwrapped title far too long"):
        figures.save(fig, tmp_path, "refused")
    assert not list(tmp_path.glob("refused*"))


EVERY_FIGURE = """
    import json, sys, nbformat
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from conflict_report.analysis import figures
    from conflict_report.runs import sweep

    checked, problems = [], []
    real_save = figures.save
    def checked_save(fig, folder, name):
        # Every figure a notebook saves, as laid out for saving, measured afresh at the screen's
        # dpi (save checks its own 300-dpi drawing): no text past the canvas.
        written = real_save(fig, folder, name)
        FigureCanvasAgg(fig)  # save closed the figure: a canvas to measure it on
        checked.append(f"{folder}/{name}")
        problems.extend(f"{folder}/{name}: {p}" for p in figures.text_outside_canvas(fig))
        return written
    figures.save = checked_save

    for spec in sweep.read_runs_file():
        notebook = nbformat.read(spec.notebook_path, as_version=4)
        namespace = {}
        for cell in (c for c in notebook.cells if c.cell_type == "code"):
            exec(cell.source, namespace)
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(spec.parameters)  # as papermill injects them
    print(json.dumps({"checked": checked, "problems": problems}))
"""


@pytest.mark.slow
def test_every_figure_of_the_sweep_fits_its_canvas(built_data, tmp_path):
    """Every run of report/runs.yml executed in one process, every saved figure measured."""
    done = in_project(built_data, EVERY_FIGURE.replace("import json,", "import os; os.environ['CONFLICT_REPORT_RUN_DIR'] = "
                                                       f"{str(tmp_path)!r}; import json,"), timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    runs = yaml.safe_load((REPO / "report" / "runs.yml").read_text(encoding="utf-8"))["runs"]
    assert len(report["checked"]) >= 4 * len(runs)
    assert report["problems"] == []


# --- parameters that cannot silently mean something else ------------------------------------------

def test_injected_names_are_checked_against_the_parameters_cell():
    parameters = 'country = "Syria"\ngovernorate = ""  # required\nstart = "2016-01-01"\n'
    injected = '# Parameters\ngovenorate = "Aleppo"\nstart = 2017\n'
    assert unknown_parameter_names(["", parameters, injected]) == (["govenorate"], ["country", "governorate", "start"])
    assert unknown_parameter_names(["", parameters, '# Parameters\ngovernorate = "Aleppo"\n']) == ([], ["country", "governorate", "start"])
    assert unknown_parameter_names(["", parameters, "import x"]) == ([], [])  # not run by papermill: nothing injected


def test_a_parameter_error_shows_as_its_message_alone_in_a_notebook():
    error = ParameterError("actor", "Narnia", "not an actor in the event table", "IS; SDF")
    assert error._render_traceback_() == ["ParameterError: parameter 'actor' = 'Narnia': not an actor in the event table. Valid values: IS; SDF"]


def test_actor_list_is_complete_or_names_the_command_that_prints_it(built_data):
    from conflict_report.analysis.params import ACTORS_COMMAND, check_actor

    events = pd.read_parquet(built_data / "data" / "processed" / "events.parquet")
    actors = views.known_actors(events)
    assert len(actors) > 40
    with pytest.raises(ParameterError) as caught:
        check_actor("Narnia", actors)
    assert "..." not in str(caught.value) and ACTORS_COMMAND in str(caught.value)
    listed = run_cli(["actors"], root=built_data).stdout.splitlines()
    assert [line.split(None, 1)[1] for line in listed] == actors


# --- small things ---------------------------------------------------------------------------------

def test_jupytext_sync_leaves_the_committed_notebooks_as_they_are(tmp_path):
    copy = shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    done = subprocess.run([sys.executable, "-m", "jupytext", "--sync", *sorted(str(p) for p in copy.glob("*.py"))],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before


def test_readme_and_environment_name_only_files_that_exist():
    texts = {name: (REPO / name).read_text(encoding="utf-8") for name in ("README.md", "environment.yml", "Makefile")}
    named = {(name, m) for name, text in texts.items()
             for m in re.findall(r"(?<![\w/.<-])((?:[\w-]+/)+[\w.-]+\.(?:md|yml|yaml|py|csv|toml|qmd))\b", text)}
    generated = ("data/processed/", "data/raw/", "build/", "report/_output/", "report/_generated/", "report/_variables.yml",
                 "report/_navigation.yml", "report/_inputs.yml")
    missing = [(name, path) for name, path in named if not path.startswith(generated) and not (REPO / path).exists()]
    assert named and missing == []


def test_serve_says_when_the_port_is_busy(tmp_path):
    root = make_scratch_project(tmp_path / "project")
    (root / "report" / "_output").mkdir(parents=True)
    (root / "report" / "_output" / "index.html").write_text("<html></html>", encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli(["serve", "--port", str(port)], root=root, check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no traceback
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and f"make serve PORT={port + 1}" in done.stderr
    assert "serve --port $(PORT)" in (REPO / "Makefile").read_text(encoding="utf-8")


RENDER_PLAN = """
    import json
    from conflict_report import paths
    from conflict_report.report import render_plan
    report = paths.REPORT
    states = [render_plan.current_state("1.10.18")]
    (report / ".gitignore").write_text("/.quarto/\\n", encoding="utf-8")  # what Quarto writes on its first render
    runs = report / "runs.yml"
    runs.write_text("# A comment edited.\\n" + runs.read_text(encoding="utf-8"), encoding="utf-8")
    states.append(render_plan.current_state("1.10.18"))
    (report / "_sections" / "summary.qmd").write_text("Changed text.\\n", encoding="utf-8")
    states.append(render_plan.current_state("1.10.18"))
    (report / "_variables.yml").write_text("national:\\n  events: '1,234'\\nbuild:\\n  date: '2031-01-01'\\n", encoding="utf-8")
    states.append(render_plan.current_state("1.10.18"))
    (report / "_variables.yml").write_text("national:\\n  events: '1,234'\\nbuild:\\n  date: '2032-06-30'\\n", encoding="utf-8")
    states.append(render_plan.current_state("1.10.18"))
    (report / "_variables.yml").write_text("national:\\n  events: '1,234'\\nbuild:\\n  date: '2032-06-30'\\nreport:\\n  title: 'Another'\\n",
                                          encoding="utf-8")
    states.append(render_plan.current_state("1.10.18"))
    text = (report / "_quarto.yml").read_text(encoding="utf-8")
    assert 'title: "{{< var report.title >}}"' in text
    (report / "_quarto.yml").write_text(text.replace('title: "{{< var report.title >}}"', 'title: "Another title"'), encoding="utf-8")
    states.append(render_plan.current_state("1.10.18"))
    plans = [render_plan.pages_to_render(before, after) for before, after in zip(states, states[1:])]
    print(json.dumps(plans))
"""


def test_the_render_plan_renders_the_pages_that_read_a_change_and_no_other(tmp_path):
    """Quarto's own .gitignore and a comment in runs.yml render nothing; a section renders the
    pages that include it; a quoted number the pages that quote it (not the build date); a new
    report title (which the navigation bar of every page quotes) and a change to _quarto.yml
    the whole site (None)."""
    root = make_scratch_project(tmp_path / "project")
    done = in_project(root, RENDER_PLAN, timeout=120)
    assert done.returncode == 0, done.stderr
    after_gitignore_and_comment, after_section, after_number, after_date, after_title, after_config = json.loads(done.stdout)
    assert after_gitignore_and_comment == []
    assert after_section == ["index.qmd", "report.qmd"]
    including = sorted(page.name for page in (root / "report").glob("*.qmd") if "national.events" in expanded(page))
    assert sorted(after_number) == including and "report.qmd" in including and "overview.qmd" in including
    assert after_date == []
    assert after_title is None
    assert after_config is None


def expanded(page: Path) -> str:
    """A page's text with its includes (one level, from report/) inlined: what quotes a variable."""
    text = page.read_text(encoding="utf-8")
    for include in re.findall(r"\{\{< include (\S+) >\}\}", text):
        path = page.parent / include
        text += path.read_text(encoding="utf-8") if path.exists() else ""
    return text


def test_a_data_step_with_nothing_to_do_prints_one_line(built_data):
    done = run_cli(["data"], root=built_data)
    assert len(done.stdout.strip().splitlines()) == 1 and "up to date" in done.stdout, done.stdout
