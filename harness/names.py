"""The one rule for the names a study, and the proxies it stores, may have (``run`` and ``merge`` share it).

Why: a name ends up in paths (``results/<study>/``), report headings and SQL-filtered columns, so quotes,
``;``, spaces or ``../`` are refused wherever a name enters the store, not only where a TOML is read.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ALLOWED = "letters, digits, '.', '_', '-' (starting with a letter or digit)"


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid study/proxy name, or None when it is."""
    if not isinstance(name, str) or not NAME.match(name):
        return f"{name!r} is not a valid name; allowed: {ALLOWED}"
    return None
