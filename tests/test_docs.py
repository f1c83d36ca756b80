"""The documentation: generated pages match the code, every relative link resolves, every page is reachable."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from harness.docgen.cli_page import render_cli_page
from harness.docgen.proxy_page import builtin_proxies, render_proxy_page
from harness.proxies import proxy_names, register_proxy

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGENERATE = "regenerate with: python benchmarks/scripts/gen_docs.py"
# [text](target) not preceded by '!' is a link, ![alt](target) an image: both must resolve. Code spans are removed
# first so that examples such as `[x](y)` inside backticks are not taken for links.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted(ROOT.glob("results/*/README.md"))]


def _links(path: Path) -> list[str]:
    text = _CODE.sub("", path.read_text(encoding="utf-8"))
    return _LINK.findall(text)


def test_proxy_page_is_up_to_date() -> None:
    page = DOCS / "proxies.md"
    assert page.is_file(), f"docs/proxies.md is missing; {REGENERATE}"
    assert page.read_text(encoding="utf-8") == render_proxy_page(), f"docs/proxies.md is out of date; {REGENERATE}"


def test_cli_page_is_up_to_date() -> None:
    from harness.cli import build_parser

    page = DOCS / "cli.md"
    assert page.is_file(), f"docs/cli.md is missing; {REGENERATE}"
    expected = render_cli_page(build_parser())
    assert page.read_text(encoding="utf-8") == expected, f"docs/cli.md is out of date; {REGENERATE}"


def test_proxy_page_lists_every_proxy_with_its_paper_and_direction() -> None:
    page = render_proxy_page()
    specs = builtin_proxies()
    assert {s.name for s in specs} >= {"nasi", "ntk_trace", "snip", "synflow"}
    for spec in specs:
        name = spec.name
        row = next(line for line in page.splitlines() if line.startswith(f"| [`{name}`]"))
        assert (spec.paper or "-") in row
        assert ("higher" if spec.higher_is_better else "lower") in row
        assert f"\n## {name}\n" in page


def test_every_proxy_names_its_paper() -> None:
    assert [spec.name for spec in builtin_proxies() if not spec.paper] == []


def test_proxy_page_leaves_out_proxies_registered_outside_the_package() -> None:
    from harness.proxies.base import unregister_proxy

    @register_proxy("t_docs_plugin", needs_labels=False)
    def _plugin(net, inputs, targets, ctx) -> float:  # noqa: ANN001
        return 0.0

    try:
        assert "t_docs_plugin" in proxy_names() and "t_docs_plugin" not in render_proxy_page()
    finally:
        unregister_proxy("t_docs_plugin")


def test_cli_page_renders_every_visible_flag_of_a_parser() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run 100%% of it")
    run.add_argument("study", help="study file")
    run.add_argument("--data-dir", metavar="DIR", help="data folder")
    run.add_argument("--workers", type=int, default=1, help="processes (default %(default)s)")
    run.add_argument("--data-root", help=argparse.SUPPRESS)
    nested = sub.add_parser("data", help="data").add_subparsers(dest="action")
    check = nested.add_parser("check", help="check the data", description="Exit status: 1 when\n  broken.")
    check.add_argument("--strict", action="store_true", help="fail")
    page = render_cli_page(parser)
    assert "| [`run`](#run) | run 100% of it |" in page
    assert "| `--data-dir DIR` |  | data folder |" in page
    assert "| `--workers WORKERS` | `1` | processes (default 1) |" in page
    assert "| `study` |  | study file |" in page
    assert "## data check" in page and "| `--strict` |  | fail |" in page
    assert "\nExit status: 1 when broken.\n" in page
    assert "--data-root" not in page  # hidden (deprecated) spellings stay out


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # external (http:, mailto:)
        path, _, anchor = target.partition("#")
        file = page.parent / path if path else page
        if not file.exists() or anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert broken == [], f"{page.relative_to(ROOT)}: links to missing files or headings: {', '.join(broken)}"


def test_every_docs_page_is_linked_from_the_index_and_the_readme_links_the_index() -> None:
    index = DOCS / "index.md"
    assert index.is_file()
    linked = {(DOCS / t.split("#", 1)[0]).resolve() for t in _links(index) if not t.startswith("#")}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.name != "index.md" and p.resolve() not in linked]
    assert unlinked == [], f"docs/index.md does not link: {', '.join(unlinked)}"
    assert "docs/index.md" in _links(ROOT / "README.md")


def test_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[ok](page.md) [bad](missing.md#x) `[code](nowhere.md)` [web](https://example.org)\n")
    assert _links(page) == ["page.md", "missing.md#x", "https://example.org"]
    assert _anchors(Path(__file__).parents[1] / "docs" / "search.md") >= {"nasis-score-precisely"}


def test_studies_page_lists_every_study_file_key() -> None:
    from dataclasses import fields

    from harness.search.nasi import NasiConfig
    from harness.search.sample import SampleConfig
    from harness.studies import search_study, spec

    page = (DOCS / "studies.md").read_text(encoding="utf-8")
    keys = {*spec.STUDY_KEYS, *spec.ANALYSIS_KEYS, *spec.OUTPUT_KEYS, *search_study.STUDY_KEYS}
    keys |= {f.name for f in fields(NasiConfig)} | {f.name for f in fields(SampleConfig)}
    missing = sorted(k for k in keys if f"| `{k}` |" not in page)
    assert missing == [], f"docs/studies.md does not describe: {', '.join(missing)}"
