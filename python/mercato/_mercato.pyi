# Type stub of the compiled extension; the submodules are typed through the Python modules
# that re-export them (mercato.metrics, mercato.datasets, mercato.recommend, mercato.fraud,
# mercato.regression, mercato.pricing).
from types import ModuleType

__version__: str

class ModelFormatError(ValueError): ...

metrics: ModuleType
datasets: ModuleType
recommend: ModuleType
fraud: ModuleType
regression: ModuleType
pricing: ModuleType
