"""Benchmark scripts (run as `.venv/bin/python bench/<name>.py`) and the reference endpoints
they measure against, served under their own settings (bench.settings). Not part of the
installed package."""
