# Same name and arguments as PyOD's: no mapping needed.
from mercato.fraud import LOF

__all__ = ["LOF"]
