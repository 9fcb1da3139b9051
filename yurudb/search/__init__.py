"""Full-text search: what a message's text is (text), the index kept in step with writes (index), queries (query)."""

from __future__ import annotations

import importlib
from typing import Any

# Old import paths (`from yurudb.search import SearchHit`, from before the subpackages) keep working;
# loaded on first use, so importing one module of this package does not load the rest.
_WHERE = {'SearchHit': '.query', 'SearchHits': '.query'}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where, __name__), name)
