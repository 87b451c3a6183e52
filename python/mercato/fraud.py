"""Fraud scoring: unsupervised anomaly detectors (filled in by its issue)."""

__all__: list[str] = []
