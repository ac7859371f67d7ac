"""ACLED (Armed Conflict Location & Event Data) adapter: ACLED's standard export CSV, and a
client for ACLED's API that writes the same CSV.

How ACLED's fields become the event table (the report's methods text says the same):
- Deaths: ACLED gives one `fatalities` figure per event and no range, so
  deaths_low = deaths_best = deaths_high = fatalities.
- Civilian deaths: ACLED does not split fatalities by victim. The fatalities of an event ACLED
  marks `civilian_targeting` = "Civilian targeting" count as civilian deaths; every other event
  counts 0. Exports older than that column use event_type "Violence against civilians" instead.
  This misses civilians killed in battles or shelling not aimed at them, and can count an
  attacker killed in an attack on civilians.
- Violence type: every political-violence event type counts, mapped by VIOLENCE_TYPE_RULES
  (the methods page prints the same rules): "Violence against civilians" is one-sided;
  "Explosions/Remote violence" aimed at civilians (civilian_targeting) is one-sided too;
  otherwise a battle or an explosion is state-based when either actor is a state's forces
  (inter1/inter2 "State forces" or code 1, or an actor named "Military/Police Forces of ...":
  ACLED codes foreign armies in Syria as "External/Other forces", and UCDP counts any
  government as a side of state-based conflict) and non-state when neither is. Protests, riots and strategic
  developments are "other", which the default violence types leave out. ACLED codes no UCDP
  dyads and applies no 25-deaths-a-year threshold, so these categories are ACLED events sorted
  into UCDP's three kinds, not UCDP's own coding. ACLED's own types are kept in
  event_type_original ("Explosions/Remote violence / Air/drone strike").
- Precision, on the schema's UCDP scale: time_precision 1 (day) -> 1, 2 (week) -> 3,
  3 (month) -> 4; geo_precision 1 (town) -> 1, 2 (near the town / within the district) -> 3,
  3 (province) -> 4. date_start = date_end = event_date.
- Sides: actor1 and actor2, each one actor whose name may contain a comma, mapped whole through
  data/reference/actors.csv. Associated actors (assoc_actor_1/2) are not sides.
- Licence: ACLED's terms forbid redistributing its rows and notes, so headline stays empty and
  the citation is "ACLED, <ACLED's source column>".
- Dates: ISO YYYY-MM-DD (current exports, the API) or "25 November 2014" (older exports).

The API (since September 2025; ACLED retired its access keys then):
- https://acleddata.com/api-documentation/getting-started (OAuth method): POST the myACLED
  email and password to https://acleddata.com/oauth/token with grant_type=password and
  client_id=acled; send the access_token as "Authorization: Bearer ..." to
  https://acleddata.com/api/acled/read. ACLED's own R package acledR 1.0.1 does the same
  (acled_auth: httr2::req_oauth_password with client "acled" and that token URL).
- Elements of ACLED's API (the same documentation): `_format=json` gives
  {"status": 200, "success": true, "data": [...]}; filters `country=`, `event_date=A|B` with
  `event_date_where=BETWEEN`; `limit` rows per `page`. `count`/`total_count` are no longer
  returned by default (ACLED notice, 2025), so paging stops at the first short page.
- Access keys (`key=`/`email=` on api.acleddata.com) no longer work, so ACLED_KEY/ACLED_EMAIL
  are not used; a clear error says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pandas as pd
import requests

from conflict_report import atomic
from conflict_report.data import geo, normalise
from conflict_report.data.inputs import strip_credentials
from conflict_report.data.schema import conform
from conflict_report.data.sources.flags import Flags
from conflict_report.data.sources.reading import _FIRST_DATE as FIRST_DATE
from conflict_report.data.sources.reading import _LAST_DATE as LAST_DATE
from conflict_report.data.sources.reading import RowChecks, read_csv_text
from conflict_report.data.sources.ucdp_ged import AdapterResult, assign_admin1
from conflict_report.errors import DownloadError, ParameterError

log = logging.getLogger(__name__)

SOURCE = "acled"
# ACLED's export, in its column order. civilian_targeting exists in newer exports only.
EXPORT_COLUMNS = [
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3",
    "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes",
    "fatalities", "tags", "timestamp",
]
OPTIONAL_COLUMNS = ("civilian_targeting",)
# The columns the mapping reads; the others are tolerated missing (older exports lack some).
REQUIRED = [
    "event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type", "actor1",
    "actor2", "country", "admin1", "admin2", "location", "latitude", "longitude",
    "geo_precision", "source", "fatalities",
]
DATE_PRECISION = {1: 1, 2: 3, 3: 4}
GEO_PRECISION = {1: 1, 2: 3, 3: 4}
VIOLENCE_AGAINST_CIVILIANS = "Violence against civilians"
BATTLES, REMOTE_VIOLENCE = "Battles", "Explosions/Remote violence"
# ACLED event type -> the report's violence type (see the module docstring); the methods page
# prints these rules, so they are written once, here.
VIOLENCE_TYPE_RULES = {
    BATTLES: "state-based when either actor is a state's military or police forces, else non-state",
    REMOTE_VIOLENCE: "one-sided when ACLED marks it civilian targeting; else as battles",
    VIOLENCE_AGAINST_CIVILIANS: "one-sided",
    "Protests": "other (not counted by default)",
    "Riots": "other (not counted by default)",
    "Strategic developments": "other (not counted by default)",
}
STATE_FORCES_INTER = ("1", "state forces")  # ACLED's inter code for state forces, numeric or as text
STATE_FORCES_NAME = r"^(?:Military|Police) Forces of "
CIVILIAN_TARGETING = "Civilian targeting"
DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y")

API_URL = "https://acleddata.com"
TOKEN_PATH = "/oauth/token"
READ_PATH = "/api/acled/read"
PAGE_SIZE = 5000
MAX_PAGES = 10_000  # a server that ignored `page` would otherwise be paged for ever
TIMEOUT = (15, 300)  # (connect, read) seconds: a 5,000-row page can take a while
USERNAME_VARIABLE, PASSWORD_VARIABLE = "ACLED_USERNAME", "ACLED_PASSWORD"
RETIRED_KEY_VARIABLES = ("ACLED_KEY", "ACLED_EMAIL")
EXPORT_INSTEAD = ("Or download an export from ACLED's Data Export Tool and pass it with "
                  "ACLED_CSV=/path/to/export.csv")


# --- the export CSV ----------------------------------------------------------------------
def read(path: Path, display_name: str | None = None, admin1_areas: geo.Areas | None = None) -> AdapterResult:
    raw = read_csv_text(path, REQUIRED, display_name)
    checks = RowChecks(raw, SOURCE)
    typed = checked_values(checks)
    kept = checks.kept
    version = dataset_version(raw.frame[kept].get("timestamp"))
    events = to_events(raw.frame[kept], typed[kept], version)
    flags = Flags(events.index)
    assign_admin1(events, flags, raw.name, admin1_areas, column="admin1")
    events["quality_flags"] = flags.joined()
    return AdapterResult(SOURCE, conform(events.reset_index(drop=True)), rejected_rows(checks), checks.rows_read, version, raw.sha256)


def rejected_rows(checks: RowChecks) -> pd.DataFrame:
    """The quarantined rows, with ACLED's own `source` column (its news sources) renamed: it
    would clash with the quarantine's `source` (the adapter), and a frame with two columns of
    one name cannot be concatenated with the other sources' rejected rows."""
    rejected = checks.rejected_frame()
    names = list(rejected.columns)
    names[names.index("source", 1)] = "acled_source"
    rejected.columns = names
    return rejected


def checked_values(checks: RowChecks) -> pd.DataFrame:
    """The typed values the mapping needs; a row's first problem quarantines it."""
    checks.long_fields()
    checks.required_text("event_id_cnty")
    checks.unique_ids("event_id_cnty")
    typed = pd.DataFrame({
        "date": event_dates(checks),
        "time_precision": checks.code("time_precision", tuple(DATE_PRECISION)),
        "geo_precision": checks.code("geo_precision", tuple(GEO_PRECISION)),
        "latitude": checks.coordinate("latitude", 90, required=False),
        "longitude": checks.coordinate("longitude", 180, required=False),
        "fatalities": checks.count("fatalities"),
    })
    checks.required_text("event_type")
    checks.required_text("country")
    return typed


def event_dates(checks: RowChecks) -> pd.Series:
    """RowChecks.date knows ISO dates only; ACLED's older exports write '25 November 2014'."""
    text = checks.raw.frame["event_date"].str.strip()
    parsed = [pd.to_datetime(text, format=f, errors="coerce") for f in DATE_FORMATS]
    dates = parsed[0].fillna(parsed[1])
    shown = text.astype("object").fillna("").map(repr)
    checks.reject(text.isna() | (text == ""), "event_date", "empty, but a date is required")
    checks.reject(dates.isna(), "event_date", "not a real date in YYYY-MM-DD or 'DD Month YYYY' form: " + shown)
    # Checked before the cast: nanosecond timestamps end in 1677 and 2262.
    outside = dates.notna() & ~dates.between(FIRST_DATE, LAST_DATE)
    checks.reject(outside, "event_date", f"outside {FIRST_DATE:%Y-%m-%d}..{LAST_DATE:%Y-%m-%d} (a typo in the year?): " + shown)
    return dates.where(~outside).astype("datetime64[ns]")


def to_events(rows: pd.DataFrame, typed: pd.DataFrame, version: str) -> pd.DataFrame:
    """Kept rows in the schema's terms (the index stays the file's row number, for errors)."""
    ids = rows["event_id_cnty"].str.strip()
    deaths = typed["fatalities"]
    return pd.DataFrame({
        "event_id": SOURCE + ":" + ids,
        "source": SOURCE,
        "source_event_id": ids,
        "dataset_version": version,
        "date_start": typed["date"], "date_end": typed["date"],
        "date_precision": typed["time_precision"].map(DATE_PRECISION).astype("Int64"),
        "year": typed["date"].dt.year,
        "country": rows["country"].str.strip(),
        "admin1_original": rows["admin1"], "admin2": rows["admin2"], "place": rows["location"],
        "latitude": typed["latitude"], "longitude": typed["longitude"],
        "geo_precision": typed["geo_precision"].map(GEO_PRECISION).astype("Int64"),
        "violence_type": violence_types(rows),
        "event_type_original": event_type_original(rows),
        "side_a": canonical_actors(rows["actor1"]), "side_b": canonical_actors(rows["actor2"]),
        "side_a_original": rows["actor1"], "side_b_original": rows["actor2"],
        "deaths_low": deaths, "deaths_best": deaths, "deaths_high": deaths,
        "deaths_civilians": civilian_deaths(rows, deaths),
        "deaths_is_lower_bound": False,
        "headline": None,
        "citation": citations(rows["source"]),
        "confidential": False,
    }, index=rows.index)


def violence_types(rows: pd.DataFrame) -> pd.Series:
    """The report's violence type of each event, by VIOLENCE_TYPE_RULES."""
    event_type = rows["event_type"].str.strip()
    fighting = event_type.isin([BATTLES, REMOTE_VIOLENCE])
    one_sided = (event_type == VIOLENCE_AGAINST_CIVILIANS) | ((event_type == REMOTE_VIOLENCE) & civilian_targeting(rows))
    kinds = pd.Series("other", index=rows.index, dtype="object")
    kinds = kinds.mask(fighting & ~state_force_involved(rows), "non-state")
    kinds = kinds.mask(fighting & state_force_involved(rows), "state-based")
    return kinds.mask(one_sided.fillna(False).astype(bool), "one-sided")


def state_force_involved(rows: pd.DataFrame) -> pd.Series:
    involved = pd.Series(False, index=rows.index)
    for inter, actor in (("inter1", "actor1"), ("inter2", "actor2")):
        if inter in rows.columns:
            involved |= rows[inter].str.strip().str.lower().isin(STATE_FORCES_INTER).fillna(False).astype(bool)
        involved |= rows[actor].str.contains(STATE_FORCES_NAME, regex=True).fillna(False).astype(bool)
    return involved


def civilian_targeting(rows: pd.DataFrame) -> pd.Series:
    """ACLED's own mark of an event aimed at civilians (newer exports); older exports: its type."""
    if "civilian_targeting" in rows.columns:
        targeted = rows["civilian_targeting"].str.strip() == CIVILIAN_TARGETING
    else:
        targeted = rows["event_type"].str.strip() == VIOLENCE_AGAINST_CIVILIANS
    return targeted.fillna(False).astype(bool)


def event_type_original(rows: pd.DataFrame) -> pd.Series:
    sub_type = (" / " + rows["sub_event_type"].str.strip()).fillna("")
    return (rows["event_type"].str.strip() + sub_type).astype("object")


def canonical_actors(actors: pd.Series) -> pd.Series:
    """One ACLED actor per column, whose name may hold a comma: never split (unlike UCDP's
    comma-separated coalitions); the canonical name when actors.csv knows the spelling."""
    names = {name: normalise.canonical_actor(name) or name.strip() for name in actors.dropna().unique() if name.strip()}
    return actors.map(names).astype("object")


def civilian_deaths(rows: pd.DataFrame, deaths: pd.Series) -> pd.Series:
    return deaths.where(civilian_targeting(rows), 0)


def citations(sources: pd.Series) -> pd.Series:
    text = sources.str.strip().astype("object")
    named = text.notna() & (text != "")
    return ("ACLED, " + text.where(named, "")).where(named, "ACLED")


def dataset_version(timestamps: pd.Series | None) -> str:
    """ACLED stamps each row with when it last changed (Unix seconds): the latest is the date
    the export's data stand at."""
    seconds = pd.to_numeric(timestamps, errors="coerce") if timestamps is not None else pd.Series(dtype=float)
    if seconds.notna().sum() == 0:
        return "ACLED export"
    as_of = dt.datetime.fromtimestamp(int(seconds.max()), tz=dt.timezone.utc).date()
    return f"ACLED export (data as of {as_of.isoformat()})"


# --- the API client ----------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never in a traceback or a log line
        return "Credentials(<redacted>)"


def fetch(country: str, start: dt.date, end: dt.date, target: Path, base_url: str | None = None,
          session: requests.Session | None = None, page_size: int = PAGE_SIZE) -> Path:
    """Download ACLED's events for `country` from `start` to `end` (inclusive) through ACLED's
    API and write them to `target` as an export CSV that `read` reads.

    The login comes only from the environment (ACLED_USERNAME: the myACLED email,
    ACLED_PASSWORD), never from a parameter a notebook could set or save. ACLED_API_URL (or
    `base_url`) replaces https://acleddata.com, e.g. with a test server."""
    if start > end:
        raise ParameterError("start", start, f"after end ({end})", "a date on or before end")
    if page_size < 1:
        raise ParameterError("page_size", page_size, "must be at least 1", f"1 to {PAGE_SIZE}")
    credentials = credentials_from_environment()
    client = ApiClient(session or requests.Session(), api_base_url(base_url), credentials)
    try:
        rows = client.events(country, start, end, page_size)
    finally:
        if session is None:
            client.session.close()
    if not rows:
        raise DownloadError(f"ACLED's API returned no events for {country!r} from {start} to {end}. "
                            f"Check the country's spelling in ACLED (e.g. 'Syria'). {EXPORT_INSTEAD}.")
    write_export(rows, target)
    log.info("ACLED API: %d events for %s, %s to %s, from %s", len(rows), country, start, end, client.read_url_for_log(country, start, end, page_size))
    return target


def credentials_from_environment() -> Credentials:
    username = os.environ.get(USERNAME_VARIABLE, "").strip()
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if username and password:
        return Credentials(username, password)
    missing = [name for name, value in ((USERNAME_VARIABLE, username), (PASSWORD_VARIABLE, password)) if not value]
    message = (f"ACLED's API needs your myACLED login: set {' and '.join(missing)} in the environment "
               f"({USERNAME_VARIABLE} is the account's email address), not in a notebook.")
    if any(os.environ.get(name) for name in RETIRED_KEY_VARIABLES):
        message += (f" {'/'.join(RETIRED_KEY_VARIABLES)} are not used: ACLED retired access keys in "
                    "September 2025; the API now takes a token obtained with your login.")
    raise DownloadError(f"{message} {EXPORT_INSTEAD}.")


def api_base_url(base_url: str | None) -> str:
    """The login is sent only over https, or to this machine (a test server)."""
    base = (base_url or os.environ.get("ACLED_API_URL", "").strip() or API_URL).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ParameterError("base_url", strip_credentials(base), "the ACLED login is only ever sent over https",
                             "an https:// URL (ACLED_API_URL), or http://127.0.0.1 for a test server")
    return base


class ApiClient:
    """One login, then paged reads. Errors quote the server's text only through `redact`, and
    never for a refused login, so neither the login nor the token reaches a log or an exception."""

    def __init__(self, session: requests.Session, base_url: str, credentials: Credentials):
        self.session, self.base_url, self._credentials = session, base_url, credentials
        self._token: str | None = None

    def redact(self, text: str) -> str:
        for secret in (self._credentials.username, self._credentials.password, self._token):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def events(self, country: str, start: dt.date, end: dt.date, page_size: int) -> list[dict]:
        self._token = self.access_token()
        rows: list[dict] = []
        for number in itertools.count(1):
            if number > MAX_PAGES:
                raise DownloadError(f"ACLED's API sent more than {MAX_PAGES} pages; it may be ignoring 'page'. {EXPORT_INSTEAD}.")
            page = self.page({**query(country, start, end, page_size), "page": number})
            rows.extend(page)
            if len(page) < page_size:
                return rows

    def access_token(self) -> str:
        form = {"username": self._credentials.username, "password": self._credentials.password,
                "grant_type": "password", "client_id": "acled"}
        body = self.answer(self.send("POST", self.base_url + TOKEN_PATH, data=form))
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise DownloadError(f"ACLED's login endpoint {self.base_url + TOKEN_PATH} answered without an access_token. {EXPORT_INSTEAD}.")
        return token

    def page(self, params: dict) -> list[dict]:
        url = self.base_url + READ_PATH
        body = self.answer(self.send("GET", url, params=params, headers={"Authorization": f"Bearer {self._token}"}))
        status = body.get("status", 200) if isinstance(body, dict) else None
        if status in (401, 403):
            raise self.refused(status, url)
        if not isinstance(body, dict) or body.get("success") is False or not isinstance(body.get("data"), list):
            problem = self.redact(str(body.get("error") or body.get("message") or "")[:300]) if isinstance(body, dict) else ""
            raise DownloadError(f"ACLED's API at {strip_credentials(url)} did not return events (page {params['page']}) {problem}. {EXPORT_INSTEAD}.")
        return body["data"]

    def send(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            # Only the exception's type: its text could quote the request.
            raise DownloadError(f"Could not reach ACLED's API at {strip_credentials(url)} ({type(exc).__name__}). "
                                f"Offline? {EXPORT_INSTEAD}.") from None

    def answer(self, response: requests.Response) -> object:
        url = strip_credentials(response.request.url or "")
        if response.status_code in (401, 403):
            raise self.refused(response.status_code, url)
        if not response.ok:
            raise DownloadError(f"ACLED's API answered HTTP {response.status_code} at {url}: "
                                f"{self.redact(response.text[:300])}. {EXPORT_INSTEAD}.")
        try:
            return response.json()
        except ValueError:
            raise DownloadError(f"ACLED's API at {url} answered with something that is not JSON. {EXPORT_INSTEAD}.") from None

    @staticmethod
    def refused(status: int, url: str) -> DownloadError:
        # The server's text is left out: it may quote the login.
        return DownloadError(f"ACLED's API refused the request (HTTP {status}) at {strip_credentials(url)}: check "
                             f"{USERNAME_VARIABLE}/{PASSWORD_VARIABLE}; your account must have API access "
                             f"(see https://acleddata.com/myacled-faqs). {EXPORT_INSTEAD}.")

    def read_url_for_log(self, country: str, start: dt.date, end: dt.date, page_size: int) -> str:
        """The request as a URL fit for logs and the manifest (the token travels in a header)."""
        return strip_credentials(f"{self.base_url}{READ_PATH}?{urlencode(query(country, start, end, page_size))}")


def query(country: str, start: dt.date, end: dt.date, page_size: int) -> dict:
    return {"_format": "json", "country": country, "event_date": f"{start:%Y-%m-%d}|{end:%Y-%m-%d}",
            "event_date_where": "BETWEEN", "limit": page_size}


def write_export(rows: list[dict], target: Path) -> None:
    """The rows as ACLED's export CSV (its column order; civilian_targeting only when the API
    sends it), written atomically."""
    columns = [c for c in EXPORT_COLUMNS if c not in OPTIONAL_COLUMNS or any(c in row for row in rows)]
    with atomic.atomic_path(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([export_text(row.get(column)) for column in columns] for row in rows)


def export_text(value: object) -> str:
    return "" if value is None else str(value)
