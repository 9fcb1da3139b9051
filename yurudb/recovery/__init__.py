"""Start-up: the recovery coordinator behind `yurudb.open`, its report, salvage and migrations."""

from __future__ import annotations

import importlib
from typing import Any

# Old import paths (`from yurudb.recovery import open`, from before the subpackages) keep working;
# loaded on first use, so importing one module of this package does not load the rest.
_WHERE = {'open': '.coordinator', 'Opening': '.coordinator', 'Options': '.startup', 'RecoveryReport': '.startup'}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where, __name__), name)
