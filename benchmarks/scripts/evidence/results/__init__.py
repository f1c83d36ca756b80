"""Evidence for docs/results.md."""
