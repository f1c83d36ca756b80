"""nasi-harness: score, correlate and compare training-free NAS proxies on NAS-Bench-201 / NATS-Bench."""

__version__ = "0.1.0"
