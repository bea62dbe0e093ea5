"""Jiedao (街道): grid-based grassroots-governance platform."""

__version__ = "0.1.0"
