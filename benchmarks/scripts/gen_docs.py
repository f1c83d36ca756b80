"""Regenerate the generated documentation pages: docs/proxies.md (proxy registry) and docs/cli.md (CLI parser).

    python benchmarks/scripts/gen_docs.py            # rewrite both pages
    python benchmarks/scripts/gen_docs.py --check    # exit 1 when a committed page is out of date

tests/test_docs.py runs the same comparison, so a changed proxy or flag fails the tests until this is rerun.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def pages() -> dict[Path, Callable[[], str]]:
    """Each generated page and the function that renders it."""
    from harness.cli import build_parser
    from harness.docgen.cli_page import render_cli_page
    from harness.docgen.proxy_page import render_proxy_page

    return {DOCS / "proxies.md": render_proxy_page, DOCS / "cli.md": lambda: render_cli_page(build_parser())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report pages that are out of date")
    args = parser.parse_args(argv)
    stale = 0
    for path, render in pages().items():
        text = render()
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale += 1
        if args.check:
            print(f"{path.relative_to(DOCS.parent)} is out of date", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(DOCS.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
