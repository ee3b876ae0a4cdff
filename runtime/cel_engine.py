"""Loading the CEL engine (the ``cel`` package's compiled extension) without its command line."""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import sys
from typing import Any


@functools.cache
def cel_engine() -> Any:
    """The CEL engine: the package's compiled extension, loaded by itself. Importing the
    package ``cel`` also imports its command line (typer, prompt_toolkit): ~0.2 s on every
    ``relay validate`` for code relay never calls. A later ``import cel`` finds the extension
    already in ``sys.modules`` and uses it (an extension is initialised once per process)."""
    loaded = sys.modules.get("cel.cel")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("cel")
    folder = next(iter(package.submodule_search_locations or ())) if package else None
    found = (
        importlib.machinery.FileFinder(
            folder,
            (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        ).find_spec("cel.cel")
        if folder
        else None
    )
    if found is None or found.loader is None:  # not the layout above: the package's own way
        import cel

        return cel
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    sys.modules["cel.cel"] = module
    return module
