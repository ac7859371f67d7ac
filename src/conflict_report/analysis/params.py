"""Notebook parameters: typed and checked at the top of every notebook through one function.

Values are data: they are compared with the known values (governorates, actors, sources)
and never evaluated. A wrong value fails at once with a message that lists the valid ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field

from conflict_report.data import normalise
from conflict_report.data.schema import EVENT_SOURCES, SOURCES, VIOLENCE_TYPES
from conflict_report.errors import ParameterError

DEFAULT_START, DEFAULT_END = "2016-01-01", "2019-12-31"


@dataclass(frozen=True)
class RunParameters:
    notebook: str
    country: str = "Syria"
    governorate: str | None = None
    actor: str | None = None
    start: dt.date = dt.date.fromisoformat(DEFAULT_START)
    end: dt.date = dt.date.fromisoformat(DEFAULT_END)
    sources: tuple[str, ...] = SOURCES
    violence_types: tuple[str, ...] = VIOLENCE_TYPES[:3]
    # The event source the headline figures come from when the table holds both (GED and ACLED
    # are never added up); the other is shown beside it on the sources page. See counted_sources.
    primary_source: str = EVENT_SOURCES[0]
    slug: str = field(default="", compare=False)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        data["sources"], data["violence_types"] = list(self.sources), list(self.violence_types)
        return data


def _date(name: str, value: object, year_end: bool) -> dt.date:
    """Dates as date objects or ISO text; a bare year (2016 or "2016", as papermill -p gives
    it) means the first or last day of that year."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if isinstance(value, int) or re.fullmatch(r"\d{4}", text):
        year = int(text)
        if not 1989 <= year <= 2100:
            raise ParameterError(name, value, "year out of range", "a year from 1989 (UCDP's first) on")
        return dt.date(year, 12, 31) if year_end else dt.date(year, 1, 1)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(name, value, "not a date", "an ISO date such as 2016-01-01, or a year such as 2016") from None


def _choices(name: str, value: object, valid: tuple[str, ...]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    items = [s.strip() for item in items for s in str(item).split(",") if s.strip()]
    unknown = [i for i in items if i not in valid]
    if unknown or not items:
        raise ParameterError(name, value, f"unknown value(s) {unknown}" if unknown else "empty", ", ".join(valid))
    return tuple(dict.fromkeys(items))


def _one_choice(name: str, value: object, valid: tuple[str, ...]) -> str:
    text = _optional_text(value)
    if text not in valid:
        raise ParameterError(name, value, "not one of the event sources", ", ".join(valid))
    return text


def counted_sources(p: RunParameters, present: set[str]) -> tuple[str, ...]:
    """The sources a run adds up: of its `sources`, one event source only (GED and ACLED record
    the same war, so their sum would count it twice) and the curated events. The one is the
    primary source when the event table holds it; else the event source the table does hold
    (an ACLED-only build counts ACLED whatever the primary)."""
    events = [s for s in p.sources if s in EVENT_SOURCES and s in present]
    chosen = p.primary_source if p.primary_source in events else events[:1]
    chosen = [chosen] if isinstance(chosen, str) else chosen
    return tuple(s for s in p.sources if s in chosen or s not in EVENT_SOURCES)


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def governorate_choices(country: str, known_governorates: list[str] | None) -> list[str]:
    """The governorates a run may name: the reference table's (data/reference/governorates.csv)
    for a country it lists, else the source's own admin1 names found in the event table."""
    if country in normalise.countries_with_crosswalk() or known_governorates is None:
        return normalise.governorate_names(country)
    return known_governorates


def check_governorate(value: object, country: str, known_governorates: list[str] | None = None) -> str | None:
    text = _optional_text(value)
    if text is None:
        return None
    if country not in normalise.countries_with_crosswalk():
        # The source's own names; without the event table at hand (the sweep's early check)
        # the run's notebook checks them.
        if known_governorates is not None and text not in known_governorates:
            raise ParameterError("governorate", value, f"not a governorate of {country} in the event table", "; ".join(known_governorates))
        return text
    pcode = normalise.admin1_pcode(country, text)
    if pcode is None:
        raise ParameterError("governorate", value, f"not a governorate of {country}", "; ".join(normalise.governorate_names(country)))
    return normalise.admin1_name(pcode)


def check_actor(value: object, known_actors: list[str] | None) -> str | None:
    text = _optional_text(value)
    if text is None:
        return None
    canonical = normalise.canonical_actor(text) or text
    if known_actors is not None and canonical not in known_actors:
        raise ParameterError("actor", value, "not an actor in the event table", actor_choices(known_actors))
    return canonical


ACTORS_SHOWN = 40
ACTORS_COMMAND = "python -m conflict_report actors"


def actor_choices(known_actors: list[str]) -> str:
    """The most active actors, and the command that prints all of them when there are more."""
    shown = "; ".join(known_actors[:ACTORS_SHOWN])
    rest = len(known_actors) - ACTORS_SHOWN
    return shown + (f" (the {ACTORS_SHOWN} most active of {len(known_actors)}; `{ACTORS_COMMAND}` lists them all)" if rest > 0 else "")


def check_parameters(notebook: str, country: object = "Syria", governorate: object = None, actor: object = None,
                     start: object = DEFAULT_START, end: object = DEFAULT_END, sources: object = SOURCES,
                     violence_types: object = VIOLENCE_TYPES[:3], primary_source: object = EVENT_SOURCES[0], known_actors: list[str] | None = None,
                     known_countries: list[str] | None = None, known_governorates: list[str] | None = None) -> RunParameters:
    """The one check every notebook calls on its parameters cell."""
    # Any notebook may call this (a researcher's own too); the shipped profiles need their subject.
    country_text = _optional_text(country)
    if country_text is None or (known_countries is not None and country_text not in known_countries):
        raise ParameterError("country", country, "not a country in the event table", ", ".join(known_countries or ["Syria"]))
    start_date, end_date = _date("start", start, year_end=False), _date("end", end, year_end=True)
    if end_date < start_date:
        raise ParameterError("end", end, f"before start ({start_date.isoformat()})", "a date on or after start")
    parameters = RunParameters(
        notebook=notebook, country=country_text,
        governorate=check_governorate(governorate, country_text, known_governorates),
        actor=check_actor(actor, known_actors),
        start=start_date, end=end_date,
        sources=_choices("sources", sources, SOURCES),
        violence_types=_choices("violence_types", violence_types, VIOLENCE_TYPES),
        primary_source=_one_choice("primary_source", primary_source, EVENT_SOURCES),
    )
    if notebook == "region_profile" and parameters.governorate is None:
        raise ParameterError("governorate", governorate, "region_profile needs a governorate",
                             "; ".join(governorate_choices(country_text, known_governorates)))
    if notebook == "actor_profile" and parameters.actor is None:
        raise ParameterError("actor", actor, "actor_profile needs an actor", actor_choices(known_actors or []) or f"see `{ACTORS_COMMAND}`")
    return RunParameters(**{**parameters.as_dict(), "start": start_date, "end": end_date,
                            "sources": parameters.sources, "violence_types": parameters.violence_types,
                            "slug": slug(parameters)})


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['’`]", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def slug(p: RunParameters) -> str:
    """A run's folder name, made from its parameters: readable parts, and a short hash of the
    rest when sources or violence types differ from the defaults."""
    parts = [p.notebook, p.country, p.governorate or "", p.actor or ""]
    if (p.start, p.end) != (dt.date.fromisoformat(DEFAULT_START), dt.date.fromisoformat(DEFAULT_END)):
        parts.append(f"{p.start.isoformat()}-{p.end.isoformat()}")
    if p.sources != SOURCES or p.violence_types != VIOLENCE_TYPES[:3] or p.primary_source != EVENT_SOURCES[0]:
        extra = json.dumps([p.sources, p.violence_types] + ([p.primary_source] if p.primary_source != EVENT_SOURCES[0] else []))
        parts.append(hashlib.sha256(extra.encode()).hexdigest()[:8])
    return "-".join(slugify(x) for x in parts if x)
