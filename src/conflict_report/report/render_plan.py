"""Which pages a render must redo: each page's key is a hash of what its sources read.

A page (a file of _quarto.yml's `render:` list) reads:
- its own text, and every file it includes (`{{< include … >}}`), followed recursively:
  _sections/ (written by people), _generated/ (written from the runs' results);
- the values of the `{{< var … >}}` keys that text uses, from _variables.yml (a run's new
  numbers change the pages that quote them, and only those: the governorates overview quotes
  every governorate's deaths; the build's date alone is no reason to render);
- the files its links and images name (figures/…, data/…, changes-files/…), by content.

Everything else Quarto reads for every page (_quarto.yml, _navigation.yml, the theme, the
bibliography, _typst/, anything else in report/ that is not one of the above), the list of
pages, each page's title and the Quarto version make the site key: when it changes the whole
site renders again (the navigation bar and titles are written into every page). Files that
Quarto never reads (runs.yml, _templates/: their effect shows in the generated files) are in
neither.

The keys of the site in report/_output are stored beside it (.render-state.json), written
into the new render before it is swapped in."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from conflict_report import paths, yaml_text
from conflict_report.report.sources_check import EMBED, INCLUDE, VAR, quarto_config, rendered_documents, variable_value

STATE_NAME = ".render-state.json"
VARIABLES = paths.REPORT / "_variables.yml"
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")  # a Markdown link's or image's target
NOT_QUOTED = {"build.date"}  # no reason to render alone: a page that prints it (PDF, methods) shows the date of its last render
# Read by a page only through what it includes, quotes or links (its page key covers them).
READ_THROUGH_PAGES = ("_generated", "_sections", "figures", "data", "changes-files")
# Never read by Quarto (their effect shows in the generated files), or written by it and by the render.
NOT_READ = ("runs.yml", "_templates", "_output", "_output.new", "_output.old", ".quarto", ".gitignore", "_variables.yml")


@dataclass(frozen=True)
class RenderState:
    site: str
    pages: dict[str, str]  # page (report.qmd) -> its key

    def as_json(self) -> str:
        return json.dumps({"site": self.site, "pages": self.pages}, indent=1, sort_keys=True) + "\n"


def read_state(output: Path) -> RenderState | None:
    try:
        data = json.loads((output / STATE_NAME).read_text(encoding="utf-8"))
        return RenderState(str(data["site"]), {str(k): str(v) for k, v in data["pages"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def render_list() -> list[str]:
    """The pages _quarto.yml's `render:` list names, its globs expanded, as paths in report/."""
    documents = rendered_documents(paths.REPORT, quarto_config(paths.REPORT))
    return list(dict.fromkeys(document.relative_to(paths.REPORT).as_posix() for document in documents))


def front_matter(text: str) -> dict:
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    try:
        data = yaml_text.load(text[3:end]) if end > 0 else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def output_name(page: str) -> str:
    """The file a page renders to: a page whose only format is Typst is a PDF (report.qmd)."""
    formats = front_matter((paths.REPORT / page).read_text(encoding="utf-8")).get("format")
    only_typst = isinstance(formats, dict) and list(formats) == ["typst"] or formats == "typst"
    return str(Path(page).with_suffix(".pdf" if only_typst else ".html"))


def _inside_report(target: str) -> Path | None:
    """The file in report/ a relative reference names (Quarto resolves includes, images and
    links from the page's folder, report/), or None: another site, an anchor, outside."""
    target = target.split("#", 1)[0].split("?", 1)[0]
    if not target or "://" in target or target.startswith(("mailto:", "data:", "/")):
        return None
    candidate = (paths.REPORT / target).resolve()
    return candidate if candidate.is_relative_to(paths.REPORT.resolve()) else None


def _quoted_values(digest, text: str, values: dict) -> None:
    """Add to ``digest`` the values of the `{{< var … >}}` keys ``text`` quotes: a new value
    changes what is rendered although the text is the same."""
    for key in sorted(set(VAR.findall(text)) - NOT_QUOTED):
        digest.update(f"var {key}={json.dumps(variable_value(values, key), sort_keys=True, default=str)}\n".encode())


def page_key(page: str, values: dict, pages: set[str]) -> str:
    """Hash of everything ``page`` reads apart from the site's shared inputs (see the module)."""
    digest = hashlib.sha256()
    seen: set[Path] = set()

    def read(path: Path) -> None:
        if path in seen:
            return
        seen.add(path)
        digest.update(f"file {path.relative_to(paths.REPORT.resolve()).as_posix()}\n".encode())
        if not path.is_file():
            digest.update(b"missing\n")
            return
        data = path.read_bytes()
        digest.update(hashlib.sha256(data).digest())
        if path.suffix not in (".qmd", ".md"):
            return
        text = data.decode("utf-8", errors="replace")
        _quoted_values(digest, text, values)
        for target in [*INCLUDE.findall(text), *(m.group(1) for m in EMBED.finditer(text)), *LINK.findall(text)]:
            found = _inside_report(target)
            if found is not None and found.relative_to(paths.REPORT.resolve()).as_posix() not in pages:
                read(found)

    read((paths.REPORT / page).resolve())
    return digest.hexdigest()


def _shared_inputs() -> list[Path]:
    """The files in report/ Quarto reads for every page (see the module docstring)."""
    pages = set(render_list())
    shared = []
    for path in sorted(p for p in paths.REPORT.rglob("*") if p.is_file()):
        relative = path.relative_to(paths.REPORT)
        if relative.as_posix() in pages or relative.parts[0] in READ_THROUGH_PAGES or relative.parts[0] in NOT_READ:
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):  # atomic.write_text's file, mid-write
            continue
        shared.append(path)
    return shared


def current_state(quarto_version: str) -> RenderState:
    pages = render_list()
    values = yaml_text.load(VARIABLES.read_text(encoding="utf-8")) if VARIABLES.exists() else {}
    site = hashlib.sha256()
    site.update(f"quarto {quarto_version}\n".encode())
    for page in pages:
        title = front_matter((paths.REPORT / page).read_text(encoding="utf-8")).get("title")
        site.update(f"page {page} title {json.dumps(title, default=str)}\n".encode())
        _quoted_values(site, str(title or ""), values or {})  # a title such as "{{< var report.title >}}"
    for path in _shared_inputs():
        site.update(f"file {path.relative_to(paths.REPORT).as_posix()}\n".encode())
        data = path.read_bytes()
        site.update(hashlib.sha256(data).digest())
        if path.suffix in (".yml", ".yaml", ".qmd", ".md"):  # _quarto.yml's navbar title quotes the report's title
            _quoted_values(site, data.decode("utf-8", errors="replace"), values or {})
    return RenderState(site.hexdigest(), {page: page_key(page, values or {}, set(pages)) for page in pages})


def pages_to_render(previous: RenderState | None, current: RenderState) -> list[str] | None:
    """The pages whose key changed, or None when the whole site must render (no earlier site,
    another site key: navigation, titles, pages added or removed, shared inputs)."""
    if previous is None or previous.site != current.site or set(previous.pages) != set(current.pages):
        return None
    return [page for page, key in current.pages.items() if previous.pages[page] != key]
