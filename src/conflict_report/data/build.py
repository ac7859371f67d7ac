"""`make data`: every source -> one validated event table in data/processed/.

Outputs: events.parquet (kept rows, flagged ones included), rejected.csv (every quarantined
row with its source, file, row number, column and reason, then its original values), a tidy copy
of UCDP's country-year totals, and manifest.json (provenance and row counts per input).

Incremental by content: when the fingerprint of inputs, reference tables and this package's
code equals the manifest's, nothing is redone. Outputs are written to temporary files and
renamed, the manifest last, so an interrupted run leaves the previous outputs in place."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from conflict_report import atomic, paths
from conflict_report.data import inputs
from conflict_report.data.inputs import file_sha256
from conflict_report.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from conflict_report.data import geo
    from conflict_report.data.sources.ucdp_ged import AdapterResult

log = logging.getLogger(__name__)
COUNTRY_YEAR = paths.PROCESSED / "ucdp_country_year.parquet"
# Boundaries are copied beside the events so notebooks read only data/processed/, whatever
# variables the shell that opened JupyterLab had.
BOUNDARIES = {1: paths.PROCESSED / "boundaries_admin1.geojson", 2: paths.PROCESSED / "boundaries_admin2.geojson"}


# The parts of the package (subpackages and top-level modules) that cannot change what a step
# builds, so that editing them does not redo the step: the data step reads only data/ and the
# shared modules; the notebooks use everything but the report stage and the command line.
NOT_READ_BY_DATA = ("analysis", "runs", "report", "run.py", "sections.py", "cli.py", "__main__.py")
NOT_READ_BY_RUNS = ("report", "cli.py", "__main__.py")


def code_fingerprint(leave_out: tuple[str, ...] = NOT_READ_BY_RUNS) -> str:
    """Hash of the package's source, less the parts in `leave_out`, and of the reference
    tables: a change to code the step reads redoes it."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent  # src/conflict_report
    sources = [p for p in package.rglob("*.py") if p.relative_to(package).parts[0] not in leave_out]
    for path in sorted([*sources, *paths.REFERENCE.glob("*.csv")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class ResolvedInputs:
    ucdp_ged: tuple[Path, str] | None
    country_year: tuple[Path, str] | None
    admin1: tuple[Path, str] | None
    admin2: tuple[Path, str] | None
    acled_csv: tuple[Path, str] | None
    curated: list[Path]
    boundaries_credit: str | None = None  # BOUNDARIES_CREDIT, or the note that it was not given; None without boundaries
    credit_given: bool = True
    reused: list[str] = field(default_factory=list)  # "VAR=value" taken from the last build
    absent: list[dict] = field(default_factory=list)  # optional inputs left out, and what that costs

    def files(self) -> list[tuple[Path, str]]:
        return [f for f in (self.ucdp_ged, self.country_year, self.admin1, self.admin2, self.acled_csv) if f]


def previous_manifest() -> dict:
    try:
        return json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def resolve_inputs() -> ResolvedInputs:
    """Each input from its variable (`VAR=none` leaves it out); unset, what the last build used;
    else it is absent. Only an event source has a default: with neither UCDP GED nor ACLED given
    or built before, the official GED release is downloaded."""
    previous = previous_manifest()
    before = {i["name"]: i["given"] for i in previous.get("inputs", [])}
    chosen: dict[str, str | None] = {}
    reused: list[str] = []
    for item in inputs.ALL_INPUTS:
        value = None if inputs.dropped(item) else inputs.given(item)
        if value is None and not inputs.dropped(item) and before.get(item.name):
            value = before[item.name]
            reused.append(f"{item.variable}={value}")
        chosen[item.name] = value
    if not any(chosen[source.name] for source in inputs.EVENT_SOURCES):
        if inputs.dropped(inputs.UCDP_GED):
            raise InputError("UCDP_GED", "no event source is left (UCDP_GED=none and no ACLED_CSV)",
                             "Set UCDP_GED or ACLED_CSV to a file or URL")
        chosen[inputs.UCDP_GED.name] = inputs.UCDP_GED.default_url
    absent = [{"variable": item.variable, "description": item.description,
               "why": f"{item.variable}=none" if inputs.dropped(item) else "not set",
               "costs": inputs.ABSENT_COSTS[item.variable]}
              for item in inputs.ALL_INPUTS if chosen[item.name] is None]
    curated = sorted(paths.CURATED.glob("*.csv"))
    if not curated:
        absent.append(dict(inputs.CURATED_ABSENT))
    located = {item.name: inputs.locate(item, chosen[item.name]) if chosen[item.name] else None for item in inputs.ALL_INPUTS}
    boundaries = [located[item.name] for item in (inputs.BOUNDARIES_ADMIN1, inputs.BOUNDARIES_ADMIN2) if located[item.name]]
    credit = os.environ.get(inputs.BOUNDARIES_CREDIT, "").strip() or None
    if credit is None and boundaries and previous.get("boundaries_credit_given"):
        credit = previous["boundaries_credit"]
        reused.append(f"{inputs.BOUNDARIES_CREDIT}={credit}")
    return ResolvedInputs(
        ucdp_ged=located[inputs.UCDP_GED.name],
        country_year=located[inputs.UCDP_COUNTRY_YEAR.name],
        admin1=located[inputs.BOUNDARIES_ADMIN1.name],
        admin2=located[inputs.BOUNDARIES_ADMIN2.name],
        acled_csv=located[inputs.ACLED_CSV.name],
        curated=curated,
        boundaries_credit=(credit or inputs.uncredited([inputs.file_name(given) for _, given in boundaries])) if boundaries else None,
        credit_given=credit is not None or not boundaries,
        reused=reused,
        absent=absent,
    )


def fingerprint(resolved: ResolvedInputs) -> str:
    digest = hashlib.sha256(code_fingerprint(NOT_READ_BY_DATA).encode())
    digest.update(" ".join(a["variable"] for a in resolved.absent).encode())  # which input a file stands for
    digest.update((resolved.boundaries_credit or "").encode())
    for item in resolved.files() + [(p, p.name) for p in resolved.curated]:
        path, given = item
        if not path.exists():
            raise InputError(Path(given).name, "the file does not exist", f"Check the path given ({given})")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def outputs_intact(manifest: dict) -> bool:
    """Every output the manifest vouches for is there with its recorded hash (a deleted or
    half-replaced boundaries file rebuilds too, not only the events)."""
    recorded = manifest.get("outputs", {})
    required = {paths.EVENTS.name, paths.REJECTED.name}
    return required <= set(recorded) and all(
        (paths.PROCESSED / name).exists() and file_sha256(paths.PROCESSED / name) == digest for name, digest in recorded.items())


@dataclass
class InputTally:
    """One input's counts over its chunks (for the manifest) and its quarantined rows."""

    given: str
    path: Path
    source: str = ""
    dataset_version: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    rows_flagged: int = 0
    rejected: list[pd.DataFrame] = field(default_factory=list)

    def add(self, chunk: AdapterResult) -> None:
        self.source, self.dataset_version = chunk.source, chunk.dataset_version
        self.rows_read += chunk.rows_read
        self.rows_kept += len(chunk.events)
        self.rows_flagged += chunk.rows_flagged
        self.rejected.append(chunk.rejected)

    @property
    def rows_rejected(self) -> int:
        return sum(len(r) for r in self.rejected)


@dataclass
class DataStep:
    """What `make data` did: the manifest, whether it rebuilt, and the inputs it resolved."""
    manifest: dict
    rebuilt: bool
    resolved: ResolvedInputs

    def notes(self) -> list[str]:
        """One line per input taken from the last build, and per optional input left out."""
        lines = [f"reused {given} from the last build ({given.split('=')[0]}=none leaves it out)" for given in self.resolved.reused]
        lines += [f"absent: {a['description']} ({a['variable']} {a['why']}): {a['costs']}. {absent_remedy(a)}" for a in self.resolved.absent]
        if not self.resolved.credit_given:
            lines.append(f"boundaries credit not given: the maps say '{self.resolved.boundaries_credit}'. Set {inputs.BOUNDARIES_CREDIT} "
                         f"to their publisher and licence (for OCHA's Syria boundaries: {inputs.BOUNDARIES_CREDIT}=\"{inputs.OCHA_SYRIA_CREDIT}\").")
        return lines


def absent_remedy(absent: dict) -> str:
    if absent["variable"] == inputs.CURATED_ABSENT["variable"]:
        return "Add curated CSV files to data/curated/ (see data/curated/README.md) to add them."
    return f"Set {absent['variable']} to a file or URL to add it."


def run(force: bool = False) -> DataStep:
    """Build data/processed/ (or confirm it is up to date). Deciding that nothing needs doing
    imports neither pandas nor pyarrow (most of a second, and a no-op `make notebooks` runs
    this step first): the build imports them."""
    atomic.remove_leftovers(paths.PROCESSED)  # temporary files of a run that was killed
    resolved = resolve_inputs()
    print_fingerprint = fingerprint(resolved)
    manifest = previous_manifest()
    if not force and manifest.get("fingerprint") == print_fingerprint and outputs_intact(manifest):
        log.info("data/processed is up to date (inputs unchanged)")
        return DataStep(manifest, False, resolved)
    return DataStep(build(resolved, print_fingerprint), True, resolved)


def build(resolved: ResolvedInputs, print_fingerprint: str) -> dict:
    from conflict_report.data import geo

    # -- load inputs ---------------------------------------------------------------------
    areas = geo.load_areas(resolved.admin1[0]) if resolved.admin1 else None
    sources = source_chunks(resolved, areas)  # UCDP's file is being read from here on
    # Curated files are small and read first: the source events they may describe are kept
    # aside while the sources stream past (see linking.within_reach).
    curated = read_curated(resolved, areas)
    country_year = read_country_year(resolved.country_year) if resolved.country_year else None

    # -- process and save, the events chunk by chunk (manifest last: it vouches for the rest) --
    tallies = write_events(sources, curated)
    written = [paths.EVENTS, *write_other_outputs(tallies, resolved, country_year)]
    manifest = build_manifest(tallies, resolved, print_fingerprint, written)
    atomic.write_json(paths.MANIFEST, manifest)
    return manifest


def write_events(sources: list[tuple[Iterable[AdapterResult], InputTally]], curated: list[tuple[AdapterResult, InputTally]]) -> list[InputTally]:
    """events.parquet, sorted by date and event id once every chunk is in; each input's tally."""
    import pandas as pd
    import pyarrow as pa

    from conflict_report.data.schema import empty_events
    from conflict_report.data.sorted_parquet import SortedParquetWriter

    schema = pa.Schema.from_pandas(empty_events(), preserve_index=False)  # events.parquet's columns and types
    with SortedParquetWriter(schema, ["date_start", "event_id"], unique="event_id", spill_in=paths.PROCESSED) as events:
        tallies, candidates, to_link = [], [], curated_to_link(curated)
        for chunks, tally in sources:
            for chunk in chunks:
                events.add(chunk.events)
                tally.add(chunk)
                candidates.append(linking_candidates(to_link, chunk.events))
                del chunk  # before the next is made: two chunks' events would be in memory
            tallies.append(tally)
        for result, tally in curated:
            tally.add(result)
            tallies.append(tally)
        if curated:
            events.add(link_curated(pd.concat([r.events for r, _ in curated], ignore_index=True), candidates))
        events.finish(paths.EVENTS)
    return tallies


def write_other_outputs(tallies: list[InputTally], resolved: ResolvedInputs, country_year: pd.DataFrame | None) -> list[Path]:
    """rejected.csv, the country-year totals and the boundaries; the files written."""
    import pandas as pd

    from conflict_report.data import geo
    from conflict_report.data.sources.reading import quarantined_in_file_order

    rejected = pd.concat([quarantined_in_file_order(t.rejected) for t in tallies], ignore_index=True) if tallies else pd.DataFrame()
    atomic.write_csv(paths.REJECTED, rejected if len(rejected.columns) else pd.DataFrame(columns=["source", "file", "row_number", "column", "reason"]))
    written = [paths.REJECTED]
    if country_year is not None:
        atomic.write_parquet(COUNTRY_YEAR, country_year)
        written.append(COUNTRY_YEAR)
    for level, item in ((1, resolved.admin1), (2, resolved.admin2)):
        if item:
            geo.load_areas(item[0])  # fails clearly here, not later in a notebook
            atomic.write_text(BOUNDARIES[level], item[0].read_text(encoding="utf-8"))
            written.append(BOUNDARIES[level])
    # An input left out (VAR=none) must not live on through an earlier build's copy of it.
    for stale in {COUNTRY_YEAR, *BOUNDARIES.values()} - set(written):
        stale.unlink(missing_ok=True)
    return written


def source_chunks(resolved: ResolvedInputs, areas: geo.Areas | None) -> list[tuple[Iterable[AdapterResult], InputTally]]:
    """Each source's results chunk by chunk, with a tally to count them in. UCDP's file can
    hold millions of events: it is never in memory whole, and its reading starts now, in a
    thread. An ACLED export is read whole, when its turn comes."""
    from conflict_report.data.sources import ucdp_ged

    sources = []
    if resolved.ucdp_ged:
        path, given = resolved.ucdp_ged
        sources.append((ucdp_ged.read_chunks(path, inputs.file_name(given), admin1_areas=areas), InputTally(given, path)))
    if resolved.acled_csv:
        path, given = resolved.acled_csv
        sources.append((acled_results(path, given, areas), InputTally(given, path)))
    return sources


def acled_results(path: Path, given: str, areas: geo.Areas | None) -> Iterator[AdapterResult]:
    from conflict_report.data.sources import acled

    yield acled.read(path, Path(given).name, admin1_areas=areas)


def read_curated(resolved: ResolvedInputs, areas: geo.Areas | None) -> list[tuple[AdapterResult, InputTally]]:
    if not resolved.curated:
        return []
    from conflict_report.data.sources import curated

    return [(curated.read(path, admin1_areas=areas), InputTally(paths.display_path(path), path)) for path in resolved.curated]


def curated_to_link(curated: list[tuple[AdapterResult, InputTally]]) -> pd.DataFrame:
    """The curated events that may describe a source event (see linking.to_link)."""
    import pandas as pd

    from conflict_report.data import linking

    events = [r.events[linking.to_link(r.events)] for r, _ in curated]
    return pd.concat(events) if events else pd.DataFrame(columns=["date_start", "date_end"])


def linking_candidates(to_link: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The events of a chunk that a curated event could be linked to (nearly always none)."""
    from conflict_report.data import linking

    near = linking.within_reach(to_link, events)
    # A copy even when empty: a view, however small, keeps the whole chunk in memory.
    return events[near & linking.linkable(events)] if near.any() else events.iloc[:0].copy()


def link_curated(curated: pd.DataFrame, candidates: list[pd.DataFrame]) -> pd.DataFrame:
    """Curated events that describe a source event are linked to it (see linking.py)."""
    import pandas as pd

    from conflict_report.data import linking
    from conflict_report.data.schema import conform

    together = pd.concat([curated, *candidates], ignore_index=True)
    return conform(linking.link_events(together).iloc[:len(curated)].reset_index(drop=True))


def read_country_year(item: tuple[Path, str]) -> pd.DataFrame:
    """UCDP's published country-year totals (organised violence within country borders) in a
    tidy form: one row per country and year, low/best/high by violence type and in total."""
    import pandas as pd

    path, given = item
    frame = pd.read_csv(path, compression="infer")
    if "sb_total_deaths_best_cy" not in frame.columns:
        raise InputError(Path(given).name, "not UCDP's country-year file (no column 'sb_total_deaths_best_cy')",
                         "Point UCDP_COUNTRY_YEAR at organizedviolencecy_v25_1.csv (or its .gz/.zip)")
    tidy = pd.DataFrame({"country": frame["country_cy"], "year": frame["year_cy"]})
    for short, label in (("sb", "state_based"), ("ns", "non_state"), ("os", "one_sided")):
        for estimate in ("low", "best", "high"):
            tidy[f"{label}_{estimate}"] = frame[f"{short}_total_deaths_{estimate}_cy"]
    for estimate in ("low", "best", "high"):
        tidy[f"total_{estimate}"] = tidy[[f"{t}_{estimate}" for t in ("state_based", "non_state", "one_sided")]].sum(axis=1)
    tidy["civilian_deaths"] = frame.get("cumulative_total_deaths_civilians_in_orgvio_cy")
    tidy["ucdp_version"] = frame["version"].astype(str) if "version" in frame.columns else ""
    return tidy


def build_manifest(tallies: list[InputTally], resolved: ResolvedInputs, print_fingerprint: str, written: list[Path]) -> dict:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    entries = []
    for tally in tallies:
        entries.append({
            "name": tally.source if tally.source != "curated" else f"curated:{tally.path.name}",
            "source": tally.source,
            "given": inputs.strip_credentials(tally.given) if "://" in tally.given else tally.given,
            "file_name": inputs.file_name(tally.given),
            "dataset_version": tally.dataset_version,
            "sha256": file_sha256(tally.path),
            "rows_read": tally.rows_read,
            "rows_kept": tally.rows_kept,
            "rows_rejected": tally.rows_rejected,
            "rows_flagged": tally.rows_flagged,
            "processed_at": now,
        })
        assert tally.rows_read == tally.rows_kept + tally.rows_rejected, f"{tally.path.name}: rows lost"
    for item, resolved_item in ((inputs.UCDP_COUNTRY_YEAR, resolved.country_year), (inputs.BOUNDARIES_ADMIN1, resolved.admin1),
                                (inputs.BOUNDARIES_ADMIN2, resolved.admin2)):
        if resolved_item:
            path, given = resolved_item
            entries.append({"name": item.name, "source": item.name, "given": given, "file_name": path.name,
                            "dataset_version": item.description, "sha256": file_sha256(path), "processed_at": now})
    return {
        "inputs": entries,
        "absent_inputs": resolved.absent,
        "boundaries_credit": resolved.boundaries_credit,
        "boundaries_credit_given": resolved.credit_given and resolved.boundaries_credit is not None,
        "fingerprint": print_fingerprint,
        "outputs": {path.name: file_sha256(path) for path in written},
        "processed_at": now,
    }
