"""Evidence for docs/search.md."""
