"""External inputs: one variable each to point at a local file (or URL), and a documented
download default fetched with pooch into data/raw/ (checksum recorded, and enforced when given)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from conflict_report import paths
from conflict_report.errors import DownloadError, InputError


@dataclass(frozen=True)
class ExternalInput:
    name: str
    variable: str  # environment or make variable that points at a local file or a URL
    default_url: str
    description: str
    sha256_variable: str | None = None


UCDP_GED = ExternalInput(
    "ucdp_ged", "UCDP_GED",
    # The pinned official release: UCDP GED Global 25.1 (CSV, zipped).
    "https://ucdp.uu.se/downloads/ged/ged251-csv.zip",
    "UCDP Georeferenced Event Dataset (GED) Global", "UCDP_GED_SHA256",
)
UCDP_COUNTRY_YEAR = ExternalInput(
    "ucdp_country_year", "UCDP_COUNTRY_YEAR",
    "https://ucdp.uu.se/downloads/organizedviolencecy/organizedviolencecy-251-csv.zip",
    "UCDP Country-Year Dataset on Organized Violence within Country Borders 25.1", "UCDP_COUNTRY_YEAR_SHA256",
)
BOUNDARIES_ADMIN1 = ExternalInput(
    "boundaries_admin1", "BOUNDARIES_ADMIN1",
    # OCHA COD-AB for Syria on HDX (CC BY 3.0 IGO); a GeoJSON with PCODE/NAME_EN (or ADM1_PCODE/ADM1_EN).
    "https://data.humdata.org/dataset/syrian-arab-republic-administrative-boundaries-populated-places",
    "Administrative boundaries, governorates (admin1)",
)
BOUNDARIES_ADMIN2 = ExternalInput(
    "boundaries_admin2", "BOUNDARIES_ADMIN2",
    "https://data.humdata.org/dataset/syrian-arab-republic-administrative-boundaries-populated-places",
    "Administrative boundaries, districts (admin2)",
)
ACLED_CSV = ExternalInput(
    "acled", "ACLED_CSV",
    "",  # no default: an export from ACLED's Data Export Tool (its terms allow no redistribution)
    "ACLED export",
)
ALL_INPUTS = (UCDP_GED, UCDP_COUNTRY_YEAR, BOUNDARIES_ADMIN1, BOUNDARIES_ADMIN2, ACLED_CSV)
EVENT_SOURCES = (UCDP_GED, ACLED_CSV)  # any one of them builds the whole report
# What the report loses without each optional input: `make data` prints it, the manifest keeps
# it, and the methods page lists it.
ABSENT_COSTS = {
    UCDP_GED.variable: "the report uses the other event source alone; no UCDP GED events",
    UCDP_COUNTRY_YEAR.variable: "no check against UCDP's published country-year totals (sources page, case study)",
    BOUNDARIES_ADMIN1.variable: "no governorate maps, and no governorate inferred from coordinates for events the source leaves without one",
    BOUNDARIES_ADMIN2.variable: "curated events are linked to source events by district name, not by the district containing their coordinates",
    ACLED_CSV.variable: "no ACLED events and no comparison with ACLED",
}
DROP = "none"  # VAR=none leaves out an input that an earlier build used
# Curated events (data/curated/*.csv) are an input too, with no variable: an empty folder.
CURATED_REMEDY = "add curated events to data/curated/ (see data/curated/README.md)"
CURATED_ABSENT = {"variable": "data/curated/", "description": "Events curated from news reports", "why": "has no CSV file",
                  "costs": "no curated events, and no claims checked (case study)"}

# The boundaries' credit line (publisher and licence), printed under every map and in the
# methods: a setting like the input variables, recorded in the manifest. For OCHA's COD-AB of
# Syria, the boundaries of the shipped example, it is OCHA_SYRIA_CREDIT.
BOUNDARIES_CREDIT = "BOUNDARIES_CREDIT"
OCHA_SYRIA_CREDIT = "UN OCHA / UN Cartographic Section (UNCS), Syrian Arab Republic COD-AB via HDX, CC BY 3.0 IGO"


def uncredited(file_names: list[str]) -> str:
    """The credit line of boundaries given without BOUNDARIES_CREDIT: says so, on every map."""
    return f"{', '.join(file_names)}, credit not given (set {BOUNDARIES_CREDIT})"

_CREDENTIAL_QUERY = re.compile(r"(?i)(key|token|password|secret|email|access_token)=[^&]*")


def strip_credentials(url: str) -> str:
    """A URL fit for the manifest and logs: no user:password@, no key=/token=/email= values."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = _CREDENTIAL_QUERY.sub(lambda m: f"{m.group(1)}=REDACTED", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def file_sha256(path: Path) -> str:
    """The file's sha256, hashed once per process while the file is unchanged: a build asks
    for each input's several times (fingerprint, reader, manifest), and a large input takes
    a noticeable fraction of a second each time."""
    status = os.stat(path)
    return _sha256_of(os.path.realpath(path), status.st_size, status.st_mtime_ns, status.st_ino)


@lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_name(given: str) -> str:
    """The file name a user knows an input by: for a URL, its last path segment (not pooch's
    hash-prefixed cache name, and never the query string)."""
    return Path(urlsplit(given).path if "://" in given else given).name


def given(item: ExternalInput) -> str | None:
    """The variable's value; None when unset or empty (`VAR=none` is returned as given)."""
    value = os.environ.get(item.variable, "").strip()
    return value or None


def dropped(item: ExternalInput) -> bool:
    """`VAR=none`: the user leaves the input out, even if an earlier build used it."""
    return (given(item) or "").lower() == DROP


def locate(item: ExternalInput, value: str | None = None) -> tuple[Path, str]:
    """(local file, how the input was named for the manifest). A URL is downloaded with pooch
    into data/raw/; a path is used where it is."""
    value = value or given(item) or item.default_url
    known_hash = os.environ.get(item.sha256_variable or "", "").strip().lower() or None
    if "://" not in value:
        path = Path(value)
        actual = file_sha256(path) if known_hash and path.exists() else known_hash
        if actual != known_hash:
            raise InputError(path.name, f"its sha256 is {actual}, not {known_hash} as {item.sha256_variable} says",
                             f"Check that {item.variable} names the intended file, or correct {item.sha256_variable}")
        return path, value
    import pooch

    try:
        local = pooch.retrieve(
            url=value,
            known_hash=f"sha256:{known_hash}" if known_hash else None,
            path=paths.RAW / item.name,
            progressbar=False,
        )
    except ValueError as exc:  # pooch: the downloaded file's hash is not the one given
        raise DownloadError(
            f"The file downloaded from {strip_credentials(value)} does not match {item.sha256_variable}={known_hash} "
            f"({exc}). It is not the file expected (a new release at that URL, or a damaged download): "
            f"compare with the publisher's checksum, then correct or unset {item.sha256_variable}."
        ) from None
    except Exception as exc:  # pooch raises requests/HTTP/OS errors; all mean the same to a user
        raise DownloadError(
            f"Could not download {item.description} from {strip_credentials(value)} ({type(exc).__name__}: {exc}). "
            f"Offline? Point {item.variable} at a copy you already have, e.g. "
            f"`make data {item.variable}=/path/to/file`."
        ) from None
    return Path(local), strip_credentials(value)
