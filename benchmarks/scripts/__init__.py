"""Experiment and figure scripts: each calls the library, writes into results/<study>/; importing one runs nothing."""
