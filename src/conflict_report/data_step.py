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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from conflict_report import atomic, geo, inputs, paths
from conflict_report.errors import InputError
from conflict_report.inputs import file_sha256
from conflict_report.schema import conform
from conflict_report.sources import ucdp_ged
from conflict_report.sources.ucdp_ged import AdapterResult

log = logging.getLogger(__name__)
COUNTRY_YEAR = paths.PROCESSED / "ucdp_country_year.parquet"
# Boundaries are copied beside the events so notebooks read only data/processed/, whatever
# variables the shell that opened JupyterLab had.
BOUNDARIES = {1: paths.PROCESSED / "boundaries_admin1.geojson", 2: paths.PROCESSED / "boundaries_admin2.geojson"}


def code_fingerprint() -> str:
    """Hash of the package's source and the reference tables: a code change rebuilds."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted([*package.rglob("*.py"), *paths.REFERENCE.glob("*.csv")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class ResolvedInputs:
    ucdp_ged: tuple[Path, str]
    country_year: tuple[Path, str] | None
    admin1: tuple[Path, str] | None
    admin2: tuple[Path, str] | None
    acled_csv: tuple[Path, str] | None
    curated: list[Path]


def previous_manifest() -> dict:
    try:
        return json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def resolve_inputs() -> ResolvedInputs:
    """Each input from its variable; else what the last build used; else the download default."""
    before = {i["name"]: i["given"] for i in previous_manifest().get("inputs", [])}

    def pick(item: inputs.ExternalInput, optional: bool):
        value = inputs.given(item) or before.get(item.name)
        if value is None and optional:
            return None
        return inputs.locate(item, value)

    acled = os.environ.get("ACLED_CSV", "").strip()
    return ResolvedInputs(
        ucdp_ged=pick(inputs.UCDP_GED, optional=False),
        country_year=pick(inputs.UCDP_COUNTRY_YEAR, optional=True),
        admin1=pick(inputs.BOUNDARIES_ADMIN1, optional=True),
        admin2=pick(inputs.BOUNDARIES_ADMIN2, optional=True),
        acled_csv=(Path(acled), acled) if acled else None,
        curated=sorted(paths.CURATED.glob("*.csv")),
    )


def fingerprint(resolved: ResolvedInputs) -> str:
    digest = hashlib.sha256(code_fingerprint().encode())
    files = [resolved.ucdp_ged, resolved.country_year, resolved.admin1, resolved.admin2, resolved.acled_csv]
    for item in [f for f in files if f] + [(p, p.name) for p in resolved.curated]:
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


def run(force: bool = False) -> dict:
    """Build data/processed/ (or confirm it is up to date) and return the manifest."""
    # -- load inputs ---------------------------------------------------------------------
    atomic.remove_leftovers(paths.PROCESSED)  # temporary files of a run that was killed
    resolved = resolve_inputs()
    print_fingerprint = fingerprint(resolved)
    manifest = previous_manifest()
    if not force and manifest.get("fingerprint") == print_fingerprint and outputs_intact(manifest):
        log.info("data/processed is up to date (inputs unchanged)")
        return manifest
    areas = geo.load_areas(resolved.admin1[0]) if resolved.admin1 else None
    results: list[tuple[AdapterResult, str, Path]] = []
    path, given = resolved.ucdp_ged
    results.append((ucdp_ged.read(path, inputs.file_name(given), admin1_areas=areas), given, path))
    if resolved.acled_csv:
        from conflict_report.sources import acled

        path, given = resolved.acled_csv
        results.append((acled.read(path, Path(given).name, admin1_areas=areas), given, path))
    if resolved.curated:
        from conflict_report.sources import curated

        for path in resolved.curated:
            results.append((curated.read(path, admin1_areas=areas), paths.display_path(path), path))

    # -- process -------------------------------------------------------------------------
    events = pd.concat([r.events for r, _, _ in results], ignore_index=True)
    events = link_across_sources(events)
    events = conform(events.sort_values(["date_start", "event_id"], kind="stable").reset_index(drop=True))
    rejected = pd.concat([r.rejected for r, _, _ in results], ignore_index=True) if results else pd.DataFrame()
    country_year = read_country_year(resolved.country_year) if resolved.country_year else None

    # -- save outputs (manifest last: it vouches for the others) -----------------------------
    atomic.write_parquet(paths.EVENTS, events)
    atomic.write_csv(paths.REJECTED, rejected if len(rejected.columns) else pd.DataFrame(columns=["source", "file", "row_number", "column", "reason"]))
    written = [paths.EVENTS, paths.REJECTED]
    if country_year is not None:
        atomic.write_parquet(COUNTRY_YEAR, country_year)
        written.append(COUNTRY_YEAR)
    for level, item in ((1, resolved.admin1), (2, resolved.admin2)):
        if item:
            geo.load_areas(item[0])  # fails clearly here, not later in a notebook
            atomic.write_text(BOUNDARIES[level], item[0].read_text(encoding="utf-8"))
            written.append(BOUNDARIES[level])
    manifest = build_manifest(results, resolved, print_fingerprint, written)
    atomic.write_json(paths.MANIFEST, manifest)
    return manifest


def link_across_sources(events: pd.DataFrame) -> pd.DataFrame:
    """Curated events that describe a source event are linked to it (see linking.py)."""
    try:
        from conflict_report import linking
    except ImportError:  # linking arrives with the curation work; until then nothing is linked
        return events
    return linking.link_events(events)


def read_country_year(item: tuple[Path, str]) -> pd.DataFrame:
    """UCDP's published country-year totals (organised violence within country borders) in a
    tidy form: one row per country and year, low/best/high by violence type and in total."""
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


def build_manifest(results, resolved: ResolvedInputs, print_fingerprint: str, written: list[Path]) -> dict:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    entries = []
    for result, given, path in results:
        entries.append({
            "name": result.source if result.source != "curated" else f"curated:{path.name}",
            "source": result.source,
            "given": inputs.strip_credentials(given) if "://" in given else given,
            "file_name": inputs.file_name(given),
            "dataset_version": result.dataset_version,
            "sha256": file_sha256(path),
            "rows_read": result.rows_read,
            "rows_kept": len(result.events),
            "rows_rejected": len(result.rejected),
            "rows_flagged": result.rows_flagged,
            "processed_at": now,
        })
        assert result.rows_read == len(result.events) + len(result.rejected), f"{path.name}: rows lost"
    for item, resolved_item in ((inputs.UCDP_COUNTRY_YEAR, resolved.country_year), (inputs.BOUNDARIES_ADMIN1, resolved.admin1),
                                (inputs.BOUNDARIES_ADMIN2, resolved.admin2)):
        if resolved_item:
            path, given = resolved_item
            entries.append({"name": item.name, "source": item.name, "given": given, "file_name": path.name,
                            "dataset_version": item.description, "sha256": file_sha256(path), "processed_at": now})
    return {
        "inputs": entries,
        "fingerprint": print_fingerprint,
        "outputs": {path.name: file_sha256(path) for path in written},
        "processed_at": now,
    }
