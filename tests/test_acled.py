"""Tests of the ACLED adapter (sources/acled.py): the export reader on invented fixtures
(tests/fixtures/acled/, see its README), and the API client against a local HTTP server that
answers like ACLED's documented API (OAuth token endpoint, paged JSON reads)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pandas as pd
import pytest
from conftest import ADMIN1_FILE

from conflict_report.data import geo
from conflict_report.data.sources import acled
from conflict_report.errors import DownloadError, InputError, ParameterError

FIXTURES = Path(__file__).parent / "fixtures" / "acled"
CURRENT_EXPORT = FIXTURES / "acled_syria_invented.csv"
OLD_EXPORT = FIXTURES / "acled_syria_old_format_invented.csv"


@pytest.fixture(scope="module")
def current() -> acled.AdapterResult:
    return acled.read(CURRENT_EXPORT, admin1_areas=geo.load_areas(ADMIN1_FILE))


def by_id(result: acled.AdapterResult, column: str) -> dict:
    return dict(zip(result.events["source_event_id"], result.events[column]))


# --------------------------------------------------------------------------------------------------
# The export reader
# --------------------------------------------------------------------------------------------------


def test_every_row_read_is_kept_or_quarantined(current) -> None:
    assert (current.rows_read, len(current.events), len(current.rejected)) == (15, 10, 5)
    assert current.rows_read == len(current.events) + len(current.rejected)


def test_each_bad_row_is_quarantined_with_its_row_column_and_reason(current) -> None:
    rows = current.rejected[["source", "row_number", "column", "reason"]].values.tolist()
    assert rows == [
        ["acled", 11, "fatalities", "not a whole number: 'several'"],
        ["acled", 12, "fatalities", "negative: '-3'"],
        ["acled", 13, "event_date", "not a real date in YYYY-MM-DD or 'DD Month YYYY' form: '2016-02-30'"],
        ["acled", 14, "event_id_cnty", "duplicate id SYR1002 (first seen at row 2)"],
        ["acled", 15, "latitude", "outside -90..90"],
    ]


def test_quarantined_rows_keep_acled_values_without_a_clashing_source_column(current) -> None:
    assert current.rejected.columns.is_unique
    assert current.rejected["acled_source"].tolist() == ["SOHR", "ANHA", "SOHR", "SOHR", "SOHR"]
    assert current.rejected["fatalities"].tolist() == ["several", "-3", "2", "1", "1"]


def test_fatalities_become_low_best_and_high_alike(current) -> None:
    expected = {"SYR1001": 7, "SYR1002": 12, "SYR1003": 4, "SYR1004": 0, "SYR1005": 3,
                "SYR1006": 0, "SYR1007": 5, "SYR1008": 1, "SYR1009": 2, "SYR1010": 0}
    for column in ("deaths_low", "deaths_best", "deaths_high"):
        assert by_id(current, column) == expected
    assert not current.events["deaths_is_lower_bound"].any()


def test_civilian_deaths_are_the_fatalities_of_civilian_targeting_events(current) -> None:
    civilians = by_id(current, "deaths_civilians")
    assert {event: deaths for event, deaths in civilians.items() if deaths} == {"SYR1001": 7, "SYR1003": 4, "SYR1009": 2}
    assert civilians["SYR1010"] == 0  # targeted, but nobody was killed


def test_time_and_geo_precision_are_mapped_to_the_schema_scale(current) -> None:
    # time_precision 1/2/3 -> 1/3/4 and geo_precision 1/2/3 -> 1/3/4 (see the fixture's README)
    assert by_id(current, "date_precision") == {"SYR1001": 1, "SYR1002": 3, "SYR1003": 4, "SYR1004": 1, "SYR1005": 1,
                                                "SYR1006": 1, "SYR1007": 3, "SYR1008": 1, "SYR1009": 1, "SYR1010": 1}
    assert by_id(current, "geo_precision") == {"SYR1001": 1, "SYR1002": 3, "SYR1003": 4, "SYR1004": 1, "SYR1005": 3,
                                               "SYR1006": 1, "SYR1007": 1, "SYR1008": 1, "SYR1009": 4, "SYR1010": 3}
    assert (current.events["date_start"] == current.events["date_end"]).all()
    assert by_id(current, "date_start")["SYR1003"] == pd.Timestamp("2017-05-20")


def test_governorates_get_their_canonical_names_and_pcodes(current) -> None:
    assert by_id(current, "admin1") == {
        "SYR1001": "Idleb", "SYR1002": "Ar-Raqqa", "SYR1003": "Deir-ez-Zor", "SYR1004": "Rural Damascus",
        "SYR1005": "Dar'a", "SYR1006": "Aleppo", "SYR1007": "Al-Hasakeh", "SYR1008": "Hama", "SYR1009": "Homs",
        "SYR1010": "Lattakia",
    }
    assert by_id(current, "admin1_pcode") == {
        "SYR1001": "SY07", "SYR1002": "SY11", "SYR1003": "SY09", "SYR1004": "SY03", "SYR1005": "SY12",
        "SYR1006": "SY02", "SYR1007": "SY08", "SYR1008": "SY05", "SYR1009": "SY04", "SYR1010": "SY06",
    }
    # Every invented event sits inside the governorate it names (checked against OCHA's boundaries).
    assert current.events["quality_flags"].tolist() == [""] * 10


def test_every_political_violence_type_counts(current) -> None:
    # Read off the fixture's event_type, actors, inter codes and civilian_targeting by hand.
    assert by_id(current, "violence_type") == {
        "SYR1001": "one-sided",    # air strike by the Syrian army, marked civilian targeting
        "SYR1002": "non-state",    # battle, SDF against IS
        "SYR1003": "one-sided",    # violence against civilians
        "SYR1004": "other",        # protest
        "SYR1005": "state-based",  # shelling by the Syrian army on an armed group
        "SYR1006": "other",        # strategic development
        "SYR1007": "state-based",  # battle, Turkey's army (ACLED: External/Other forces) against the SDF
        "SYR1008": "other",        # riot
        "SYR1009": "one-sided",    # remote violence by an armed group, marked civilian targeting
        "SYR1010": "one-sided",    # violence against civilians
    }


def test_acled_types_are_kept(current) -> None:
    assert by_id(current, "event_type_original")["SYR1001"] == "Explosions/Remote violence / Air/drone strike"
    assert by_id(current, "event_type_original")["SYR1008"] == "Riots / Mob violence"


def test_actors_are_mapped_whole_never_split_on_commas(current) -> None:
    side_a, side_b = by_id(current, "side_a"), by_id(current, "side_b")
    assert (side_a["SYR1001"], side_a["SYR1002"], side_b["SYR1002"]) == ("Government of Syria", "SDF", "IS")
    assert side_b["SYR1008"] == "Traders, Shopkeepers (Syria)"
    assert by_id(current, "side_a_original")["SYR1001"] == "Military Forces of Syria (2000-)"
    assert pd.isna(side_b["SYR1004"])  # a protest with no second actor


def test_no_acled_text_is_republished_and_the_citation_names_acled(current) -> None:
    assert current.events["headline"].isna().all()
    assert by_id(current, "citation")["SYR1001"] == "ACLED, SOHR; AFP"
    assert not current.events.isin(["INVENTED EVENT for tests"]).any().any()


def test_the_version_is_the_date_of_the_latest_row_timestamp(current) -> None:
    assert current.dataset_version == "ACLED export (data as of 2024-03-01)"
    assert set(current.events["dataset_version"]) == {"ACLED export (data as of 2024-03-01)"}
    assert current.events["event_id"].tolist()[0] == "acled:SYR1001"


def test_older_exports_with_written_out_dates_and_no_civilian_targeting_column() -> None:
    result = acled.read(OLD_EXPORT)
    assert by_id(result, "date_start") == {"SYR0101": pd.Timestamp("2014-11-25"), "SYR0102": pd.Timestamp("2015-03-03")}
    # Without civilian_targeting, civilian deaths are those of "Violence against civilians" events.
    assert by_id(result, "deaths_civilians") == {"SYR0101": 6, "SYR0102": 0}
    assert result.rejected[["row_number", "column", "reason"]].values.tolist() == [
        [3, "event_date", "not a real date in YYYY-MM-DD or 'DD Month YYYY' form: '31 February 2015'"],
        [4, "event_date", "not a real date in YYYY-MM-DD or 'DD Month YYYY' form: '2015/03/04'"],
    ]
    assert result.dataset_version == "ACLED export (data as of 2015-03-10)"


def test_a_missing_column_stops_the_run_naming_the_file_and_column() -> None:
    with pytest.raises(InputError) as caught:
        acled.read(FIXTURES / "acled_missing_fatalities.csv", "acled_export_2024.csv")
    assert caught.value.file == "acled_export_2024.csv"
    assert "required column(s) missing: 'fatalities'" in str(caught.value)
    assert str(caught.value).startswith("acled_export_2024.csv, row 0:")


# --------------------------------------------------------------------------------------------------
# The API client, against a local server in ACLED's documented format
# --------------------------------------------------------------------------------------------------


def api_event(number: int, day: dt.date, country: str = "Syria") -> dict:
    """One event as ACLED's JSON API gives it (numbers partly as text, as ACLED sends them)."""
    return {
        "event_id_cnty": f"SYR9{number:03d}", "event_date": day.isoformat(), "year": str(day.year), "time_precision": "1",
        "disorder_type": "Political violence", "event_type": "Battles", "sub_event_type": "Armed clash",
        "actor1": "Military Forces of Syria (2000-)", "assoc_actor_1": "", "inter1": "State forces",
        "actor2": "Islamic State (Syria)", "assoc_actor_2": "", "inter2": "Rebel group",
        "interaction": "State forces-Rebel group", "civilian_targeting": "", "iso": 760, "region": "Middle East",
        "country": country, "admin1": "Homs", "admin2": "Tadmor", "admin3": "Tadmor", "location": "Tadmur",
        "latitude": "34.5560", "longitude": "38.2684", "geo_precision": "1", "source": "SOHR",
        "source_scale": "National", "notes": "INVENTED EVENT for tests", "fatalities": number % 4, "tags": "",
        "timestamp": 1709251200,
    }


@dataclass
class FakeAcled:
    """What the local server knows (the account, the token it hands out, the events) and what it
    was asked."""

    username: str
    password: str
    token: str
    events: list[dict]
    read_refused: bool = False  # an account that can log in but has no API access
    logins: list[dict] = field(default_factory=list)
    reads: list[tuple[dict, str | None]] = field(default_factory=list)

    def matching(self, params: dict) -> list[dict]:
        first, last = params["event_date"].split("|")
        assert params["event_date_where"] == "BETWEEN"
        return [e for e in self.events if e["country"] == params["country"] and first <= e["event_date"] <= last]


def handler_for(fake: FakeAcled) -> type[BaseHTTPRequestHandler]:
    class AcledHandler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # the OAuth token endpoint (password grant)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
            fake.logins.append({**form, "content_type": self.headers["Content-Type"]})
            if urlsplit(self.path).path != "/oauth/token":
                return self.answer(404, {"message": "not found"})
            if (form.get("username"), form.get("password")) != (fake.username, fake.password):
                # A server may quote the login back: the client must not pass that on.
                return self.answer(401, {"error": "invalid_grant", "error_description": f"wrong password for {form.get('username')}"})
            self.answer(200, {"token_type": "Bearer", "expires_in": 86400, "access_token": fake.token, "refresh_token": str(uuid4())})

        def do_GET(self) -> None:  # /api/acled/read?_format=json&...&limit=N&page=P
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            fake.reads.append((params, self.headers.get("Authorization")))
            if url.path != "/api/acled/read":
                return self.answer(404, {"message": "not found"})
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                return self.answer(401, {"message": "Access denied"})
            if fake.read_refused:
                return self.answer(403, {"message": f"The account {fake.username} has no API access"})
            limit, page = int(params["limit"]), int(params["page"])
            data = fake.matching(params)[(page - 1) * limit:page * limit]
            self.answer(200, {"status": 200, "success": True, "last_update": 0, "count": len(data), "messages": [], "data": data})

        def log_message(self, *args) -> None:  # keep the test output to what the client prints
            pass

    return AcledHandler


@pytest.fixture
def acled_server(monkeypatch) -> Iterator[FakeAcled]:
    """A local ACLED API with a unique account; ACLED_* point the client at it."""
    in_range = [api_event(n, dt.date(2019, 1, 1) + dt.timedelta(days=30 * n)) for n in range(10)]
    outside = [api_event(90, dt.date(2018, 12, 31)), api_event(91, dt.date(2019, 5, 5), country="Iraq")]
    fake = FakeAcled(username=f"{uuid4()}@example.org", password=str(uuid4()), token=str(uuid4()), events=in_range + outside)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ACLED_API_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("ACLED_USERNAME", fake.username)
    monkeypatch.setenv("ACLED_PASSWORD", fake.password)
    monkeypatch.delenv("ACLED_KEY", raising=False)
    monkeypatch.delenv("ACLED_EMAIL", raising=False)
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


def fetch_2019(target: Path, page_size: int = 4) -> Path:
    return acled.fetch("Syria", dt.date(2019, 1, 1), dt.date(2019, 12, 31), target, page_size=page_size)


def secrets_of(fake: FakeAcled, *extra: str) -> list[str]:
    return [fake.username, fake.password, fake.token, *extra]


def test_fetch_logs_in_pages_through_the_api_and_writes_an_export_read_reads(acled_server, tmp_path) -> None:
    target = fetch_2019(tmp_path / "acled_syria_2019.csv", page_size=4)

    assert acled_server.logins == [{"username": acled_server.username, "password": acled_server.password,
                                    "grant_type": "password", "client_id": "acled",
                                    "content_type": "application/x-www-form-urlencoded"}]
    assert [params["page"] for params, _ in acled_server.reads] == ["1", "2", "3"]  # 4 + 4 + 2 events
    assert {auth for _, auth in acled_server.reads} == {f"Bearer {acled_server.token}"}
    first, _ = acled_server.reads[0]
    assert first == {"_format": "json", "country": "Syria", "event_date": "2019-01-01|2019-12-31",
                     "event_date_where": "BETWEEN", "limit": "4", "page": "1"}

    assert target.read_text(encoding="utf-8").splitlines()[0] == ",".join(acled.EXPORT_COLUMNS)
    result = acled.read(target)
    assert (result.rows_read, len(result.events), len(result.rejected)) == (10, 10, 0)
    assert sorted(result.events["source_event_id"]) == [f"SYR9{n:03d}" for n in range(10)]
    assert result.dataset_version == "ACLED export (data as of 2024-03-01)"


def test_a_last_full_page_is_followed_by_one_empty_page(acled_server, tmp_path) -> None:
    acled.read(fetch_2019(tmp_path / "acled.csv", page_size=5))
    assert [params["page"] for params, _ in acled_server.reads] == ["1", "2", "3"]  # 5 + 5 + 0 events


def test_no_credential_reaches_a_file_a_log_or_the_output(acled_server, tmp_path, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)  # everything, requests' and urllib3's debug lines included
    fetch_2019(tmp_path / "downloads" / "acled.csv")

    logged, printed = caplog.text, "".join(capsys.readouterr())
    assert "ACLED API: 10 events for Syria, 2019-01-01 to 2019-12-31" in logged  # the log was captured
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["acled.csv"]
    for secret in secrets_of(acled_server):
        assert secret not in logged
        assert secret not in printed
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_a_refused_login_names_the_variables_and_echoes_no_credential(acled_server, tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_password = str(uuid4())
    monkeypatch.setenv("ACLED_PASSWORD", wrong_password)
    with pytest.raises(DownloadError) as caught:
        fetch_2019(tmp_path / "acled.csv")

    message = str(caught.value)
    assert "HTTP 401" in message
    assert "check ACLED_USERNAME/ACLED_PASSWORD; your account must have API access" in message
    assert "ACLED_CSV" in message
    whole_traceback = "".join(traceback.format_exception(caught.value))
    for secret in secrets_of(acled_server, wrong_password):
        assert secret not in whole_traceback
        assert secret not in caplog.text
    assert acled_server.reads == []  # no data request without a token
    assert list(tmp_path.iterdir()) == []


def test_an_account_without_api_access_is_told_so_without_its_token(acled_server, tmp_path) -> None:
    acled_server.read_refused = True
    with pytest.raises(DownloadError) as caught:
        fetch_2019(tmp_path / "acled.csv")
    message = "".join(traceback.format_exception(caught.value))
    assert "HTTP 403" in message and "your account must have API access" in message
    assert not any(secret in message for secret in secrets_of(acled_server))
    assert not (tmp_path / "acled.csv").exists()


def test_an_unreachable_api_says_to_pass_an_export_instead(monkeypatch, tmp_path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ACLED_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ACLED_USERNAME", "someone@example.org")
    monkeypatch.setenv("ACLED_PASSWORD", "not-used")
    with pytest.raises(DownloadError, match=r"Could not reach ACLED's API at http://127\.0\.0\.1:\d+/oauth/token \(ConnectionError\)") as caught:
        fetch_2019(tmp_path / "acled.csv")
    assert "ACLED_CSV=/path/to/export.csv" in str(caught.value)


def test_missing_credentials_name_the_variables_to_set(monkeypatch, tmp_path) -> None:
    for name in ("ACLED_USERNAME", "ACLED_PASSWORD", "ACLED_KEY", "ACLED_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DownloadError) as caught:
        fetch_2019(tmp_path / "acled.csv")
    assert "set ACLED_USERNAME and ACLED_PASSWORD in the environment" in str(caught.value)
    assert "retired access keys" not in str(caught.value)


def test_retired_access_keys_are_explained(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("ACLED_USERNAME", raising=False)
    monkeypatch.delenv("ACLED_PASSWORD", raising=False)
    monkeypatch.setenv("ACLED_KEY", str(uuid4()))
    monkeypatch.setenv("ACLED_EMAIL", "someone@example.org")
    with pytest.raises(DownloadError, match="ACLED retired access keys in September 2025"):
        fetch_2019(tmp_path / "acled.csv")


def test_the_login_is_never_sent_over_plain_http_to_another_machine(acled_server, tmp_path) -> None:
    with pytest.raises(ParameterError, match="only ever sent over https"):
        acled.fetch("Syria", dt.date(2019, 1, 1), dt.date(2019, 12, 31), tmp_path / "acled.csv",
                    base_url="http://acled.example.org")
    assert acled_server.logins == []
