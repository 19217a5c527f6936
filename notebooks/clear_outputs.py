"""Clear the outputs of the notebooks before committing them (``python notebooks/clear_outputs.py [paths...]``).

Outputs carry timings, local paths and plots: large diffs that say nothing about the code. ``make test`` executes
every notebook anyway, and ``tests/notebooks`` fails when a committed notebook still holds outputs. This does what
``jupyter nbconvert --clear-output --inplace`` does, with nbformat alone (nbconvert is not a dependency).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def clear_outputs(path: Path) -> bool:
    """Clear outputs and execution counts of one notebook in place; True when it changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.outputs or cell.execution_count is not None:
            cell.outputs, cell.execution_count = [], None
            changed = True
        if "execution" in cell.metadata:  # per-cell timings some front ends record
            del cell.metadata["execution"]
            changed = True
    if changed:
        nbformat.validate(notebook)
        nbformat.write(notebook, path)
    return changed


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(Path(__file__).resolve().parent.glob("*.ipynb"))
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"not a notebook: {path}", file=sys.stderr)
            return 2
        print(f"{'cleared' if clear_outputs(path) else 'clean  '} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
