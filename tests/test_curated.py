"""The hand-curated events: the shipped rows code the article faithfully, curate-check names
every broken row and column, and a confidential row's text never reaches data/processed."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SHARED_DATA, run_cli

from conflict_report.data.schema import countable
from conflict_report.data.sources import curated
from conflict_report.errors import InputError

EVENTS_FILE = REPO / "data" / "curated" / "events.csv"
CLAIMS_FILE = REPO / "data" / "curated" / "claims" / "claims.csv"
ARTICLE = SHARED_DATA.parent / "seeds" / "sohr-raqqa-raids-2014-11.txt"
PUBLISHED = pd.Timestamp("2014-11-26")


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return curated.read(EVENTS_FILE).events.set_index("event_id")


@pytest.mark.parametrize("path", [EVENTS_FILE, CLAIMS_FILE], ids=["events", "claims"])
def test_every_shipped_quote_occurs_verbatim_in_the_article(path):
    article = ARTICLE.read_text(encoding="utf-8")
    rows = read_rows(path)
    assert rows
    for row in rows:
        for excerpt in row["quote"].split(" [...] "):
            assert excerpt in article, f"{row.get('curated_id') or row['claim_id']}: not in the article: {excerpt!r}"


def test_weekdays_are_resolved_against_the_publication_date(shipped):
    assert PUBLISHED.day_name() == "Wednesday"
    article = ARTICLE.read_text(encoding="utf-8")
    expected = {  # event -> (the article's word for its first day, the date it resolves to)
        "curated:sohr-2014-11-25-raqqa-regime-air-strikes": ("Tuesday", "2014-11-25"),
        "curated:sohr-2014-11-24-us-air-strikes-syria": ("Monday", "2014-11-24"),
        "curated:sohr-2014-11-26-sochi-talks": ("Wednesday", "2014-11-26"),
        "curated:sohr-2014-11-27-french-mirage-jets-jordan": ("Thursday", "2014-11-27"),
    }
    for event_id, (weekday, date) in expected.items():
        start = shipped.at[event_id, "date_start"]
        assert start == pd.Timestamp(date) and start.day_name() == weekday and weekday in article
        assert abs((start - PUBLISHED).days) <= 3  # the nearest such weekday: this week's, not another
    assert shipped.at["curated:sohr-2014-11-07-khatib-moscow-talks", "date_start"] == pd.Timestamp("2014-11-07")


def test_raqqa_air_strikes_are_coded_as_a_lower_bound(shipped):
    raqqa = shipped.loc["curated:sohr-2014-11-25-raqqa-regime-air-strikes"]
    assert (raqqa["deaths_low"], raqqa["deaths_best"]) == (95, 95) and pd.isna(raqqa["deaths_high"])
    assert raqqa["deaths_is_lower_bound"] and raqqa["quality_flags"] == "deaths_lower_bound"
    assert raqqa["deaths_civilians"] == 48  # more than half of at least 95: more than 47.5
    assert (raqqa["side_a"], raqqa["side_b"], raqqa["side_a_original"]) == ("Government of Syria", "IS", "Syrian regime")
    assert (raqqa["admin1"], raqqa["admin1_pcode"], raqqa["admin1_original"]) == ("Ar-Raqqa", "SY11", "Raqqa")
    assert abs(raqqa["latitude"] - 35.95) < 0.05 and abs(raqqa["longitude"] - 39.01) < 0.05
    assert (raqqa["date_precision"], raqqa["geo_precision"], raqqa["violence_type"]) == (1, 2, "state-based")
    assert raqqa["dataset_version"] == "curated (data/curated/events.csv)" and raqqa["source"] == "curated"


def test_coalition_strikes_are_counts_of_strikes_with_unknown_deaths(shipped):
    syria = shipped.loc["curated:sohr-2014-11-24-us-air-strikes-syria"]
    iraq = shipped.loc["curated:sohr-2014-11-24-coalition-air-strikes-iraq"]
    assert (syria["strikes"], iraq["strikes"]) == (10, 7)
    for strikes in (syria, iraq):
        assert strikes[["deaths_low", "deaths_best", "deaths_high", "deaths_civilians"]].isna().all()  # unknown, not 0
        assert (strikes["date_start"], strikes["date_end"], strikes["date_precision"]) == (pd.Timestamp("2014-11-24"), PUBLISHED, 2)
        assert (strikes["geo_precision"], strikes["admin1"]) == (6, "Unknown") and pd.isna(strikes["latitude"])
    assert (syria["country"], iraq["country"]) == ("Syria", "Iraq")


def test_strategic_developments_have_zero_deaths(shipped):
    developments = shipped[shipped["event_type_original"] == "strategic_development"]
    assert sorted(developments["country"]) == ["Jordan", "Russia", "Russia"]
    assert (developments[["deaths_low", "deaths_best", "deaths_high"]] == 0).all().all()
    assert not developments["deaths_is_lower_bound"].any() and (developments["violence_type"] == "other").all()


def test_curate_check_passes_on_the_shipped_files():
    result = run_cli(["curate-check"])
    assert "2 file(s) checked, 0 problem(s)" in result.stdout


# One problem per row, each planted in a copy of the (valid) Raqqa row: (column, value, message).
BROKEN = [
    ("coder", "", "column 'coder': empty, but every row needs it"),
    ("admin1", "Rakka", "column 'admin1': unknown governorate spelling 'Rakka' for Syria (valid names: Damascus, Aleppo,"),
    ("date_start", "2014-11-31", "column 'date_start': not a real date in YYYY-MM-DD form: '2014-11-31'"),
    ("date_end", "2014-11-24", "column 'date_end': end date before start date"),
    ("deaths_bound", "exact", "column 'deaths_high': empty, but only a lower bound"),
    ("deaths_low", "100", "column 'deaths_low': larger than deaths_best"),
    ("latitude", "135.9", "column 'latitude': outside -90..90"),
    ("geo_precision", "9", "column 'geo_precision': not one of the codebook values 1, 2, 3, 4, 5, 6, 7"),
    ("date_precision", "0", "column 'date_precision': not one of the codebook values 1, 2, 3, 4, 5"),
    ("curated_id", "sohr-2014-11-25-raqqa-regime-air-strikes", "column 'curated_id': duplicate id sohr-2014-11-25-raqqa-regime-air-strikes (first seen at row 1)"),
    ("quote", " ", "column 'quote': empty, but every row needs it"),
    ("confidential", "yes", "column 'confidential': not one of true, false: 'yes'"),
]


@pytest.fixture
def broken_file(tmp_path) -> Path:
    rows = read_rows(EVENTS_FILE)
    template = rows[0]
    assert template["curated_id"] == "sohr-2014-11-25-raqqa-regime-air-strikes"
    broken = [template] + [{**template, "curated_id": f"broken-{n}", column: value} for n, (column, value, _) in enumerate(BROKEN)]
    path = tmp_path / "events.csv"
    write_rows(path, broken)
    return path


def test_curate_check_names_the_row_and_column_of_every_problem(broken_file):
    result = run_cli(["curate-check", str(broken_file)], check=False)
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("events.csv, row ")]
    for row, (_, _, message) in enumerate(BROKEN, start=2):
        assert any(line.startswith(f"events.csv, row {row}, {message}") for line in problems), f"row {row}: {message}\n{result.stdout}"
    assert len(problems) == len(BROKEN)  # one line per planted problem, nothing else
    assert "Ar-Raqqa" in problems[1] and "admin1_spellings.csv" in problems[1]  # valid names and the fix


def test_the_data_step_refuses_a_broken_curated_file(broken_file):
    with pytest.raises(InputError) as error:
        curated.read(broken_file)
    assert (error.value.row, error.value.column) == (2, "coder")
    assert "curate-check" in error.value.fix and f"{len(BROKEN)} in this file" in error.value.fix


SECRET = {"quote": "Witness Qxz-7731 saw the shelling", "coder": "coder-Vexlor", "source_citation": "Private report Zarqomel-55",
          "description": "Headline Plinthwick", "notes": "Notes Durnavel", "source_url": "https://example.org/Tessaroon"}


def test_a_confidential_row_counts_but_its_text_never_reaches_the_outputs(scratch_project):
    rows = read_rows(scratch_project / "data" / "curated" / "events.csv")
    planted = {**rows[0], **SECRET, "curated_id": "confidential-1", "confidential": "true", "date_start": "2014-10-01",
               "date_end": "2014-10-01", "admin1": "Aleppo", "admin2": "", "place": "Aleppo city", "latitude": "36.2",
               "longitude": "37.16", "deaths_low": "7", "deaths_best": "7", "deaths_high": "7", "deaths_bound": "exact",
               "deaths_civilians": "", "civilians_bound": ""}
    write_rows(scratch_project / "data" / "curated" / "events.csv", rows + [planted])
    run_cli(["data"], root=scratch_project)

    processed = scratch_project / "data" / "processed"
    outputs = sorted(p for p in processed.rglob("*") if p.is_file())
    assert {p.name for p in outputs} >= {"events.parquet", "rejected.csv", "manifest.json"}
    for path in outputs:
        texts = [path.read_bytes().decode("utf-8", errors="replace")]
        if path.suffix == ".parquet":
            texts.append(pd.read_parquet(path).to_csv())
        for text in texts:
            for secret in SECRET.values():
                assert secret not in text, f"{path.name} holds {secret!r}"

    events = pd.read_parquet(processed / "events.parquet").set_index("event_id")
    row = events.loc["curated:confidential-1"]
    assert row["confidential"] and pd.isna(row["citation"]) and pd.isna(row["headline"])
    assert rows[0]["source_citation"] in events.to_csv()  # the search would find text that is there
    shipped_deaths = sum(int(r["deaths_best"] or 0) for r in rows)
    assert countable(events[events["source"] == "curated"])["deaths_best"].sum() == shipped_deaths + 7
