"""Generators of the documentation pages built from the code: docs/cli.md (``cli_page``, from the CLI's parser) and
docs/proxies.md (``proxy_page``, from the proxy registry). ``benchmarks/scripts/gen_docs.py`` rewrites both;
tests/test_docs.py fails when a committed page is out of date. They sit on top, beside the CLI."""
