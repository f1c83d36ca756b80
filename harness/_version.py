"""The package version, in a module of its own so that any layer can import it (the package ``__init__`` sits on
top: it re-exports the API)."""

__version__ = "0.1.0"
