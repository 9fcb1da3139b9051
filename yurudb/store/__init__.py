"""The public Store: validation, the single writer with group commit, reads, the session cache, usage."""

from __future__ import annotations

import importlib
from typing import Any

# Old import paths (`from yurudb.store import Store`, from before the subpackages) keep working;
# loaded on first use, so importing one module of this package does not load the rest.
_WHERE = {'Store': '.store'}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where, __name__), name)
