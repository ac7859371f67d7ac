"""What changed between a saved edition and the current build: the inputs, the events (per
source: added, removed, revised, newly quarantined, newly accepted, with their deaths by year
and by governorate) and every ledger entry that moved.

Events are matched on (source, the source's own event id). An event that moves to another
year or governorate leaves its old cell ("revised: before", its old values) and joins the new
one ("revised: after", its new values), so each cell's net change is exact. An event missing
from the new table whose id is now in the quarantine was not removed by its source: it is
counted as newly quarantined; the other way round, newly accepted.

ACLED's terms allow aggregates only: its events count in every count and sum, but never
appear as a row (nor do confidential curated events)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from conflict_report import atomic, paths
from conflict_report.analysis import tables as report_tables
from conflict_report.report import editions

# The column of each source's own id in rejected.csv (the adapters' raw column names).
SOURCE_ID_COLUMN = {"ucdp_ged": "id", "acled": "event_id_cnty", "curated": "curated_id"}
SOURCE_NAMES = {"ucdp_ged": "UCDP GED", "acled": "ACLED", "curated": "Curated"}
AGGREGATES_ONLY = {"acled"}  # never shown as rows (ACLED's terms of use)

# What a revision can change, by the name a reader sees.
COMPARED = {
    "date": ["date_start", "date_end", "date_precision"],
    "place": ["admin1", "admin2", "place", "latitude", "longitude", "geo_precision"],
    "sides": ["side_a", "side_b"],
    "deaths": ["deaths_low", "deaths_best", "deaths_high", "deaths_civilians"],
    "violence type": ["violence_type"],
}
DEATHS = ["deaths_best", "deaths_low", "deaths_high"]
KEY = ["source", "source_event_id"]
EVENT_COLUMNS = [*KEY, "year", "confidential", *dict.fromkeys(c for cs in COMPARED.values() for c in cs)]

ADDED, REMOVED, REVISED = "added", "removed", "revised"
QUARANTINED, ACCEPTED = "newly quarantined", "newly accepted"
BEFORE, AFTER = "revised: before", "revised: after"
# Which side's values each kind of change contributes to a cell, and with which sign.
CELL_PARTS = [(ADDED, ADDED, "new", 1), (ACCEPTED, ACCEPTED, "new", 1), (REVISED, AFTER, "new", 1),
              (REMOVED, REMOVED, "old", -1), (QUARANTINED, QUARANTINED, "old", -1), (REVISED, BEFORE, "old", -1)]
PAGE_OF_NOTEBOOK = {"overview": "Country overview", "region_profile": "Governorate: {title}", "actor_profile": "Actor: {title}",
                    "sources": "Sources and coverage", "case_study": "Case study"}
LARGEST_SHOWN = 10


@dataclass
class Snapshot:
    """A build as the comparison needs it: an edition's files, or the current build's."""
    label: str
    manifest: dict
    events_file: Path
    rejected_file: Path
    results: dict[str, dict]  # run name -> results.json
    runs: dict[str, dict]  # run name -> notebook, notebook_sha256, parameters
    runs_sha256: str
    code_fingerprint: str


def edition_snapshot(edition: editions.Edition) -> Snapshot:
    return Snapshot(f"edition {edition.name}", json.loads((edition.folder / "manifest.json").read_text(encoding="utf-8")),
                    edition.folder / "events.parquet", edition.folder / "rejected.csv", edition.results(),
                    edition.info["runs"], edition.info["runs_sha256"], edition.info["code_fingerprint"])


def current_snapshot() -> Snapshot:
    from conflict_report.data.build import code_fingerprint

    runs = editions.current_runs()
    return Snapshot("current build", json.loads(paths.MANIFEST.read_text(encoding="utf-8")), paths.EVENTS, paths.REJECTED,
                    {run.name: json.loads((run.folder / "results.json").read_text(encoding="utf-8")) for run in runs},
                    {run.name: {"notebook": run.spec.notebook, "notebook_sha256": editions.sha256_file(run.spec.notebook_path),
                                "parameters": run.parameters} for run in runs},
                    editions.runs_file_sha256(), code_fingerprint())


@dataclass
class Comparison:
    edition: editions.Edition
    inputs: pd.DataFrame
    data_changed: bool
    code_changed: bool
    runs_file_changed: bool
    events: pd.DataFrame  # one row per changed event, both sides' values (ACLED included: filter before showing)
    by_source: pd.DataFrame
    by_year: pd.DataFrame
    by_governorate: pd.DataFrame
    ledger: pd.DataFrame

    def csv_tables(self) -> dict[str, pd.DataFrame]:
        """The tables `changes --csv` writes and the page links; event rows without ACLED."""
        return {"inputs": self.inputs, "by_source": self.by_source, "by_year": self.by_year,
                "by_governorate": self.by_governorate, "events": shown_events(self.events), "ledger": self.ledger}


# --- inputs --------------------------------------------------------------------------------------

def compare_inputs(old: dict, new: dict) -> pd.DataFrame:
    before = {i["name"]: i for i in old.get("inputs", [])}
    after = {i["name"]: i for i in new.get("inputs", [])}
    rows = []
    for name in [*before, *(n for n in after if n not in before)]:
        b, a = before.get(name, {}), after.get(name, {})
        changed = "added" if not b else "removed" if not a else "yes" if b["sha256"] != a["sha256"] else "no"
        rows.append({"input": name, "version_before": b.get("dataset_version", ""), "version_after": a.get("dataset_version", ""),
                     "sha256_before": b.get("sha256", "")[:12], "sha256_after": a.get("sha256", "")[:12], "changed": changed})
    return pd.DataFrame(rows, columns=["input", "version_before", "version_after", "sha256_before", "sha256_after", "changed"])


# --- events --------------------------------------------------------------------------------------

def read_events(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path, columns=EVENT_COLUMNS)


def quarantined_ids(path: Path) -> set[tuple[str, str]]:
    rejected = pd.read_csv(path, dtype=str, keep_default_na=False)
    ids = set()
    for source, column in SOURCE_ID_COLUMN.items():
        if column in rejected.columns:
            rows = rejected[(rejected["source"] == source) & (rejected[column].str.strip() != "")]
            ids.update(zip(rows["source"], rows[column].str.strip()))
    return ids


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    same = (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
    return ~same


def compare_events(old_events: pd.DataFrame, new_events: pd.DataFrame, old_quarantine: set, new_quarantine: set) -> pd.DataFrame:
    """One row per event that was added, removed, revised, newly quarantined or newly accepted."""
    merged = old_events.merge(new_events, on=KEY, how="outer", suffixes=("_old", "_new"), indicator=True)
    keys = list(zip(merged["source"], merged["source_event_id"]))
    only_old, only_new = merged["_merge"].eq("left_only"), merged["_merge"].eq("right_only")
    in_new_quarantine = pd.Series([k in new_quarantine for k in keys], index=merged.index)
    in_old_quarantine = pd.Series([k in old_quarantine for k in keys], index=merged.index)
    what = pd.Series("", index=merged.index)
    for label, columns in COMPARED.items():
        moved = pd.Series(False, index=merged.index)
        for column in columns:
            moved |= _differs(merged[f"{column}_old"], merged[f"{column}_new"])
        what = what + moved.map({True: label + ", ", False: ""})
    what = what.str.rstrip(", ")
    both = merged["_merge"].eq("both")
    change = pd.Series(pd.NA, index=merged.index, dtype="object")
    change[only_old] = REMOVED
    change[only_old & in_new_quarantine] = QUARANTINED
    change[only_new] = ADDED
    change[only_new & in_old_quarantine] = ACCEPTED
    change[both & (what != "")] = REVISED
    merged["change"] = change
    merged["what_changed"] = what.where(both, "")
    merged["confidential"] = merged["confidential_old"].fillna(False).astype(bool) | merged["confidential_new"].fillna(False).astype(bool)
    changed = merged[merged["change"].notna()].copy()
    changed["deaths_best_change"] = changed["deaths_best_new"].fillna(0).astype("Int64") - changed["deaths_best_old"].fillna(0).astype("Int64")
    columns = [*KEY, "change", "what_changed", "confidential", "deaths_best_change"]
    for column in ["year", "date_start", "admin1", "admin2", "place", "side_a", "side_b", *DEATHS, "deaths_civilians", "violence_type"]:
        columns += [f"{column}_old", f"{column}_new"]
    changed = changed[columns].sort_values(KEY, kind="stable").reset_index(drop=True)
    for column in ("date_start_old", "date_start_new"):
        changed[column] = changed[column].dt.strftime("%Y-%m-%d")
    return changed


def shown_events(events: pd.DataFrame) -> pd.DataFrame:
    """The event rows a reader may see: never ACLED's (aggregates only) nor confidential ones."""
    keep = ~events["source"].isin(AGGREGATES_ONLY) & ~events["confidential"]
    return events[keep].drop(columns="confidential").reset_index(drop=True)


def cells(events: pd.DataFrame, by: str) -> pd.DataFrame:
    """Events and deaths (best, low, high) per source and cell (`year` or `admin1`), per kind
    of change, plus a `net` row: what the cell gained minus what it lost."""
    parts = []
    for kind, label, side, _sign in CELL_PARTS:
        rows = events[events["change"] == kind]
        part = pd.DataFrame({"source": rows["source"], by: rows[f"{by}_{side}"], "change": label, "events": 1,
                             **{d: rows[f"{d}_{side}"].fillna(0).astype("int64") for d in DEATHS}})
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    table = long.groupby(["source", by, "change"], sort=True).sum().reset_index()
    sign = table["change"].map({label: s for _kind, label, _side, s in CELL_PARTS})
    net = table[["events", *DEATHS]].mul(sign, axis=0).assign(source=table["source"], **{by: table[by]}).groupby(["source", by]).sum().reset_index()
    net["change"] = "net"
    order = {label: i for i, label in enumerate((ADDED, REMOVED, BEFORE, AFTER, QUARANTINED, ACCEPTED, "net"))}
    result = pd.concat([table, net], ignore_index=True)
    result = result.sort_values(["source", by, "change"], key=lambda s: s.map(order) if s.name == "change" else s, kind="stable")
    return result[["source", by, "change", "events", *DEATHS]].reset_index(drop=True)


def by_source(events: pd.DataFrame, sources: list[str]) -> pd.DataFrame:
    rows = []
    for source in sources:
        mine = events[events["source"] == source]
        row = {"source": source}
        for kind in (ADDED, REMOVED, REVISED, QUARANTINED, ACCEPTED):
            row[f"events_{kind.replace(' ', '_')}"] = int((mine["change"] == kind).sum())
        for deaths in DEATHS:
            gained = sum(int(mine.loc[mine["change"] == k, f"{deaths}_new"].fillna(0).sum()) for k in (ADDED, ACCEPTED, REVISED))
            lost = sum(int(mine.loc[mine["change"] == k, f"{deaths}_old"].fillna(0).sum()) for k in (REMOVED, QUARANTINED, REVISED))
            row[f"{deaths}_net_change"] = gained - lost
        rows.append(row)
    return pd.DataFrame(rows)


# --- the ledger ----------------------------------------------------------------------------------

def page_of(run_name: str, run: dict, results: dict) -> str:
    parameters = results.get("parameters", {})
    title = parameters.get("governorate") or parameters.get("actor") or run_name
    return PAGE_OF_NOTEBOOK.get(run.get("notebook"), run_name).format(title=title)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _difference(old: dict | None, new: dict | None) -> str:
    if not old or not new or not (_number(old["value"]) and _number(new["value"])):
        return ""
    delta = new["value"] - old["value"]
    if new.get("unit") == "share":
        return f"{100 * delta:+.3g} pp"  # three digits: a move too small for the display's 0.1% still shows
    return f"{delta:+,}" if isinstance(delta, int) else f"{delta:+,.4g}"


def _moved(old: dict | None, new: dict | None) -> bool:
    if old is None or new is None:
        return True
    if old["value"] is None and new["value"] is None:
        return str(old["display"]) != str(new["display"])  # a sentence such as a deaths range or a verdict
    return old["value"] != new["value"]


def compare_ledgers(old: Snapshot, new: Snapshot, data_changed: bool) -> pd.DataFrame:
    rows = []
    code_changed = old.code_fingerprint != new.code_fingerprint
    for name in [*new.results, *(n for n in old.results if n not in new.results)]:
        old_results, new_results = old.results.get(name, {}), new.results.get(name, {})
        old_run, new_run = old.runs.get(name), new.runs.get(name)
        run_method_changed = code_changed or old_run is None or new_run is None or any(
            old_run.get(k) != new_run.get(k) for k in ("notebook", "notebook_sha256", "parameters"))
        why = "; ".join(label for label, flag in (("data revised", data_changed), ("method changed", run_method_changed)) if flag) \
            or "neither data nor method changed"
        page = page_of(name, new_run or old_run, new_results or old_results)
        old_values, new_values = old_results.get("values", {}), new_results.get("values", {})
        for key in [*new_values, *(k for k in old_values if k not in new_values)]:
            before, after = old_values.get(key), new_values.get(key)
            if not _moved(before, after):
                continue
            rows.append({"page": page, "run": name, "key": key, "description": (after or before)["description"],
                         "before": "" if before is None else str(before["display"]),
                         "after": "" if after is None else str(after["display"]),
                         "difference": "entry added" if before is None else "entry removed" if after is None else _difference(before, after),
                         "why": why})
    return pd.DataFrame(rows, columns=["page", "run", "key", "description", "before", "after", "difference", "why"])


# --- the comparison ------------------------------------------------------------------------------

def compare(since: str | None = None) -> Comparison | None:
    """The current build against edition `since` (default: the last saved); None if none is saved."""
    edition = editions.get(since) if since else editions.last()
    if edition is None:
        return None
    old, new = edition_snapshot(edition), current_snapshot()
    inputs = compare_inputs(old.manifest, new.manifest)
    data_changed = bool((inputs["changed"] != "no").any())
    old_events, new_events = read_events(old.events_file), read_events(new.events_file)
    events = compare_events(old_events, new_events, quarantined_ids(old.rejected_file), quarantined_ids(new.rejected_file))
    sources = sorted(set(old_events["source"]) | set(new_events["source"]))
    return Comparison(edition, inputs, data_changed, old.code_fingerprint != new.code_fingerprint, old.runs_sha256 != new.runs_sha256,
                      events, by_source(events, sources), cells(events, "year"), cells(events, "admin1").rename(columns={"admin1": "governorate"}),
                      compare_ledgers(old, new, data_changed))


def write_csv(comparison: Comparison, folder: Path) -> list[Path]:
    written = []
    for name, frame in comparison.csv_tables().items():
        atomic.write_csv(folder / f"{name}.csv", frame)
        written.append(folder / f"{name}.csv")
    return written


# --- text: the command line and the report -------------------------------------------------------

def _range(best: int, low: int, high: int, signed: bool = False) -> str:
    f = "{:+,}" if signed else "{:,}"
    return f"{f.format(best)} ({f.format(low)} to {f.format(high)})"


def _before_after(before: str, after: str) -> str:
    return before if before == after else f"{before or '(none)'} → {after or '(none)'}"


def _method_sentence(c: Comparison) -> str:
    code = "The package code changed" if c.code_changed else "The package code is unchanged"
    runs = "report/runs.yml changed" if c.runs_file_changed else "report/runs.yml is unchanged"
    return f"{code}; {runs}."


def summary(c: Comparison | None) -> str:
    if c is None:
        return f"No saved edition in {editions.editions_dir()}: nothing to compare with. Save one with `python -m conflict_report edition save NAME`.\n"
    lines = [f"Changes since edition {c.edition.name} (saved {c.edition.saved_at[:19].replace('T', ' ')} UTC, commit {c.edition.info['commit']})", ""]
    changed_inputs = c.inputs[c.inputs["changed"] != "no"]
    lines.append("Inputs changed: " + (", ".join(f"{r.input} ({r.changed})" for r in changed_inputs.itertuples()) or "none"))
    lines.append(_method_sentence(c))
    lines.append("")
    for r in c.by_source.itertuples():
        lines.append(f"{SOURCE_NAMES.get(r.source, r.source)}: {r.events_added:,} events added, {r.events_removed:,} removed, "
                     f"{r.events_revised:,} revised, {r.events_newly_quarantined:,} newly quarantined, {r.events_newly_accepted:,} newly accepted; "
                     f"deaths, best (low to high), net change {_range(r.deaths_best_net_change, r.deaths_low_net_change, r.deaths_high_net_change, True)}")
    lines.append("")
    lines.append(f"Ledger entries that moved: {len(c.ledger):,}")
    for page, count in c.ledger.groupby("page", sort=False).size().items():
        lines.append(f"  {page}: {count:,}")
    return "\n".join(lines) + "\n"


EVENTS_CSV = paths.REPORT / "changes-files" / "events.csv"
EVENTS_CSV_LINK = "changes-files/events.csv"


def _cell_table(cells_table: pd.DataFrame, by: str, label: str) -> pd.DataFrame:
    wide = cells_table.pivot_table(index=["source", by], columns="change", values=["events", *DEATHS], aggfunc="sum", fill_value=0)
    rows = []
    for (source, cell), values in wide.iterrows():
        events = lambda kind: int(values.get(("events", kind), 0))  # noqa: E731
        net = [int(values.get((d, "net"), 0)) for d in DEATHS]
        rows.append({"Source": SOURCE_NAMES.get(source, source), label: cell, "Added": f"{events(ADDED):,}", "Removed": f"{events(REMOVED):,}",
                     "Revised (out / in)": f"{events(BEFORE):,} / {events(AFTER):,}",
                     "Quarantined / accepted": f"{events(QUARANTINED):,} / {events(ACCEPTED):,}",
                     "Deaths, net change: best (low to high)": _range(*net, signed=True)})
    return pd.DataFrame(rows)


def _event_side(row, side: str) -> str:
    date = row[f"date_start_{side}"]
    place = ", ".join(str(v) for v in (row[f"place_{side}"], row[f"admin1_{side}"]) if pd.notna(v) and v != "")
    sides = " – ".join(str(v) for v in (row[f"side_a_{side}"], row[f"side_b_{side}"]) if pd.notna(v))
    deaths = report_tables.deaths_text(*(row[f"{d}_{side}"] for d in DEATHS))
    return f"{date}; {place}; {sides}; deaths {deaths}"


def largest_revisions(events: pd.DataFrame, count: int = LARGEST_SHOWN) -> pd.DataFrame:
    revised = shown_events(events)
    revised = revised[revised["change"] == REVISED]
    order = revised["deaths_best_change"].abs().sort_values(ascending=False, kind="stable").index
    top = revised.loc[order[:count]]
    return pd.DataFrame({
        # What changed goes with the event: a column of its own is too narrow for its header in the PDF.
        "Event (what changed)": [f"{SOURCE_NAMES.get(s, s)} {i} ({w})" for s, i, w in zip(top["source"], top["source_event_id"], top["what_changed"])],
        "Before": [_event_side(r, "old") for _, r in top.iterrows()],
        "After": [_event_side(r, "new") for _, r in top.iterrows()],
        "Deaths (best), change": [f"{int(v):+,}" for v in top["deaths_best_change"]],
    })


def partial(c: Comparison | None) -> str:
    """The Markdown shared by the changes page and the PDF section."""
    if c is None:
        return ("No edition has been saved yet, so there is nothing to compare this build with. When this edition is published, "
                "save it with `python -m conflict_report edition save NAME` (or `make edition NAME=...`); the next build lists here "
                "what changed since.\n")
    saved = c.edition.saved_at[:10]
    out = [f"This build is compared with the edition **{report_tables.escape(c.edition.name)}**, saved on {saved} from commit "
           f"`{c.edition.info['commit']}`. Only what changed is listed; every number not listed below is the same as in that edition.\n"]
    out.append("## Inputs and method\n")
    inputs = pd.DataFrame({
        "Input": c.inputs["input"],
        "Version": [_before_after(a, b) for a, b in zip(c.inputs["version_before"], c.inputs["version_after"])],
        "SHA-256 (first 12)": [_before_after(a, b) for a, b in zip(c.inputs["sha256_before"], c.inputs["sha256_after"])],
        "Changed": c.inputs["changed"],
    })
    out.append(report_tables.markdown(inputs, align_numbers=False) + f"\n: The inputs in edition {report_tables.escape(c.edition.name)} and now {{#tbl-changes-inputs}}\n")
    out.append(_method_sentence(c) + "\n")
    out.append("## Events\n")
    if c.events.empty:
        out.append("No event was added, removed, revised, quarantined or accepted since that edition.\n")
    else:
        sources = pd.DataFrame({
            "Source": [SOURCE_NAMES.get(s, s) for s in c.by_source["source"]],
            "Added": [f"{v:,}" for v in c.by_source["events_added"]],
            "Removed": [f"{v:,}" for v in c.by_source["events_removed"]],
            "Revised": [f"{v:,}" for v in c.by_source["events_revised"]],
            "Newly quarantined": [f"{v:,}" for v in c.by_source["events_newly_quarantined"]],
            "Newly accepted": [f"{v:,}" for v in c.by_source["events_newly_accepted"]],
            "Deaths, net change: best (low to high)": [_range(r.deaths_best_net_change, r.deaths_low_net_change, r.deaths_high_net_change, True)
                                                      for r in c.by_source.itertuples()],
        })
        acled_note = (" ACLED events count in these numbers but are never listed (ACLED's terms allow aggregates only)."
                      if "acled" in set(c.by_source["source"]) else "")
        out.append("Events are matched on each source's own event id. Quarantined rows (unusable, see the methods) are counted apart "
                   f"from events the source removed.{acled_note}\n")
        out.append(report_tables.markdown(sources) + "\n: Events added, removed and revised per source, and the net change in deaths {#tbl-changes-sources}\n")
        out.append("An event that moved to another year or governorate counts as revised out of its old cell and into its new one.\n")
        out.append(report_tables.markdown(_cell_table(c.by_year, "year", "Year")) + "\n: Changes by year {#tbl-changes-years}\n")
        out.append(report_tables.markdown(_cell_table(c.by_governorate, "governorate", "Governorate")) + "\n: Changes by governorate {#tbl-changes-governorates}\n")
        largest = largest_revisions(c.events)
        if len(largest):
            out.append(f"### Largest revisions\n\nThe {len(largest)} revised events with the largest change in deaths (best estimate); "
                       "each side reads date; place; sides; deaths best (low–high).\n")
            out.append(report_tables.markdown(largest) + "\n: The largest revisions by change in deaths {#tbl-changes-largest}\n")
        out.append("::: {.content-visible when-format=\"html\"}\n"
                   f"The full list of added, removed and revised events (without ACLED's): [events.csv]({EVENTS_CSV_LINK}).\n:::\n")
        out.append("::: {.content-visible unless-format=\"html\"}\n"
                   f"The full list of added, removed and revised events (without ACLED's) is the file {EVENTS_CSV_LINK} beside the HTML site.\n:::\n")
    out.append("## Numbers in the report that moved\n")
    if c.ledger.empty:
        out.append("No number the report quotes has moved since that edition.\n")
    else:
        out.append(f"{len(c.ledger):,} entries of the results ledger moved (entries added or removed, and text such as a claim's verdict, included). "
                   "\"Data revised\" means an input changed; \"method changed\" means the package code, the run's notebook or its parameters changed.\n")
        for page, rows in c.ledger.groupby("page", sort=False):
            shown = pd.DataFrame({"Entry": rows["description"], "Before": rows["before"], "After": rows["after"],
                                  "Change": rows["difference"], "Why": rows["why"]})
            # No caption: a captioned table is a Typst figure, which never breaks across pages.
            out.append(f"### {report_tables.escape(page)}\n\n" + report_tables.markdown(shown, align_numbers=False))
    return "\n".join(out)


def report_files() -> dict[Path, str]:
    """The changes partial and the full event list for the site (report/build.py writes them)."""
    comparison = compare()
    events = shown_events(comparison.events) if comparison is not None else shown_events(_no_events())
    safe = events.astype(object).map(atomic.neutralise_formula)
    return {paths.REPORT / "_generated" / "changes.qmd": partial(comparison),
            EVENTS_CSV: safe.to_csv(index=False, lineterminator="\n")}


def _no_events() -> pd.DataFrame:
    empty = pd.DataFrame(columns=[*KEY, "change", "confidential"])
    empty["confidential"] = empty["confidential"].astype(bool)
    return empty
