"""Machine Learning for Earth Sciences: the course's Python package."""

from ml4es.runtime import device, seed_everything

__version__ = "0.1.0"

__all__ = ["device", "seed_everything", "__version__"]
