"""Evidence for docs/performance.md."""
