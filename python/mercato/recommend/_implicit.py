"""Implicit-feedback recommenders (filled in by their issue)."""

__all__: list[str] = []
