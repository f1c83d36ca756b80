"""The report: figures (PNG + PDF) and tables (CSV + Markdown) regenerated from a results store, no scoring."""

from harness.report.build import build_report, render_report
from harness.report.palette import OKABE_ITO, Style, proxy_styles

__all__ = ["OKABE_ITO", "Style", "build_report", "proxy_styles", "render_report"]
