"""Stand-in for PyOD: its detector classes mapped onto ``mercato.fraud`` (see ../../README.md)."""
