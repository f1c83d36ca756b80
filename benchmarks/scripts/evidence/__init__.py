"""One-off investigations, one folder per doc page whose claim each backs (see README.md here)."""
