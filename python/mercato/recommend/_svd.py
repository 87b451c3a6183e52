"""Truncated SVD of sparse matrices (filled in by its issue)."""

__all__: list[str] = []
