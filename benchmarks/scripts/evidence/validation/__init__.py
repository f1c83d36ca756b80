"""Evidence for docs/validation.md."""
