"""One fixed, colour-blind-safe style per proxy, the same in every figure of every report.

Colours are the eight of Okabe & Ito (2008), safe for the common colour-vision deficiencies. Eight colours
cannot tell twenty proxies apart, and mixing in a second palette would break the safety, so a proxy's
style is a colour *plus* a marker, line style and hatch that change each time the colours wrap around: no
two proxies share a style, and none relies on hue alone. Styles are dealt to the proxies of a report in the
registry's order (names it does not know, such as ensembles, after them, sorted), so the first eight get
eight different colours and the same set of proxies always gets the same styles.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: weakest on white)
)
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
NEUTRAL = "#7F7F7F"  # baselines and degenerate cells, never a proxy
DEGENERATE_MARKER = "x"


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    linestyle: str | tuple
    hatch: str


def _registered() -> list[str]:
    if "harness.proxies" not in sys.modules:  # the registry imports torch; its built-ins are declared in files
        from harness.analysis.directions import declared_directions

        return sorted(declared_directions())
    from harness.proxies import proxy_names

    return list(proxy_names())


def proxy_styles(proxies: Iterable[str]) -> dict[str, Style]:
    """Style of each proxy, dealt in registry order (then unknown names, sorted)."""
    wanted = set(proxies)
    registered = [p for p in _registered() if p in wanted]
    order = registered + sorted(wanted - set(registered))
    styles = {}
    for i, name in enumerate(order):
        cycle = i // len(OKABE_ITO)
        styles[name] = Style(
            color=OKABE_ITO[i % len(OKABE_ITO)],
            marker=MARKERS[cycle % len(MARKERS)],
            linestyle=LINESTYLES[cycle % len(LINESTYLES)],
            hatch=HATCHES[cycle % len(HATCHES)],
        )
    return styles
