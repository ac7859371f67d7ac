"""Do two sweeps give the same outputs? Compares two build/ folders run by run: results.json,
every table and figure byte for byte, and the executed notebooks' cell sources and outputs
(papermill's timings and the kernel's execution metadata aside).

    python benchmarks/same_runs.py BUILD_A BUILD_B      # exit 1 and a list when anything differs
    python benchmarks/same_runs.py --pixels BUILD_A BUILD_B   # PNG files and the notebooks' PNG
                                                    # outputs compared as decoded RGB pixels and dpi

--pixels is for a change of how the PNGs are encoded, not of what they show."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

NOT_COMPARED = {".run-key"}  # holds the code fingerprint, which differs by design


def run_files(build: Path) -> dict[str, Path]:
    return {str(p.relative_to(build)): p for p in sorted(build.glob("*/**/*"))
            if p.is_file() and p.name not in NOT_COMPARED and p.suffix != ".ipynb"}


def png_pixels(data: bytes) -> tuple:
    """What a PNG shows: its size, dpi and RGB pixels (an opaque image with or without alpha)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    return image.size, tuple(round(d) for d in image.info.get("dpi", ())), image.convert("RGB").tobytes()


def same_file(a: Path, b: Path, pixels: bool) -> bool:
    if pixels and a.suffix == ".png":
        return png_pixels(a.read_bytes()) == png_pixels(b.read_bytes())
    return a.read_bytes() == b.read_bytes()


def notebook_content(path: Path, pixels: bool = False) -> list[tuple[str, str, str]]:
    """Each cell's type, source and outputs (as JSON): what a reader of the notebook sees."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    if pixels:
        for output in (o for c in cells for o in c.get("outputs", [])):
            if "image/png" in output.get("data", {}):
                output["data"]["image/png"] = str(hash(png_pixels(base64.b64decode(output["data"]["image/png"]))))
    return [(c["cell_type"], "".join(c["source"]), json.dumps(c.get("outputs", []), sort_keys=True)) for c in cells]


def differences(build_a: Path, build_b: Path, pixels: bool = False) -> list[str]:
    a, b = run_files(build_a), run_files(build_b)
    problems = [f"only in {build_a}: {name}" for name in sorted(a.keys() - b.keys())]
    problems += [f"only in {build_b}: {name}" for name in sorted(b.keys() - a.keys())]
    problems += [f"differs: {name}" for name in sorted(a.keys() & b.keys()) if not same_file(a[name], b[name], pixels)]
    notebooks_a = {str(p.relative_to(build_a)): p for p in build_a.glob("*/*.ipynb")}
    notebooks_b = {str(p.relative_to(build_b)): p for p in build_b.glob("*/*.ipynb")}
    problems += [f"notebook only in one: {name}" for name in sorted(notebooks_a.keys() ^ notebooks_b.keys())]
    for name in sorted(notebooks_a.keys() & notebooks_b.keys()):
        cells_a, cells_b = notebook_content(notebooks_a[name], pixels), notebook_content(notebooks_b[name], pixels)
        if len(cells_a) != len(cells_b):
            problems.append(f"notebook {name}: {len(cells_a)} cells against {len(cells_b)}")
        problems += [f"notebook {name}: cell {i} differs" for i, (x, y) in enumerate(zip(cells_a, cells_b), start=1) if x != y]
    return problems


def main(argv: list[str]) -> int:
    pixels = "--pixels" in argv
    build_a, build_b = (Path(a) for a in argv if a != "--pixels")
    problems = differences(build_a, build_b, pixels)
    compared = len(run_files(build_a))
    print("\n".join(problems) if problems else f"same: {compared} files (results.json, tables, figures) and every notebook's cells")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
