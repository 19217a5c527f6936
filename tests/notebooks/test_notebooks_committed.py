"""The committed notebooks are clean: no outputs, a kernel that exists in the venv, valid nbformat.

``make test`` executes them headless (``pytest --nbmake notebooks``); these checks cover what execution cannot: what
is in the repository. Outputs would bloat diffs, leak machine-specific paths and timings, and make a stale run look
like a fresh one; a kernel name other than ``python3`` would make nbmake look for a kernel that is not installed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = {
    "01_langchain_lcel_rag.ipynb",
    "02_llama_index_rag.ipynb",
    "03_one_index_two_frameworks.ipynb",
    "04_semantic_cache.ipynb",
    "05_langchain_agent.ipynb",
}


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_are_there() -> None:
    assert {path.name for path in _notebooks()} == EXPECTED


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `python notebooks/clear_outputs.py`"
    assert path.stat().st_size < 100_000, f"{path.name} is {path.stat().st_size} bytes: something large is inside"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_kernel_exists_in_this_environment(path: Path) -> None:
    kernel = nbformat.read(path, as_version=4).metadata["kernelspec"]["name"]
    assert kernel == "python3", f"{path.name} asks for kernel {kernel!r}; nbmake runs notebooks on 'python3'"
    assert kernel in KernelSpecManager().find_kernel_specs(), "ipykernel's python3 kernel is not installed"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_asserts_what_it_shows(path: Path) -> None:
    """A notebook without assertions would pass CI whatever it printed: each must check its own claims."""
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert code.count("assert ") >= 5, f"{path.name} checks too little of what it shows"
