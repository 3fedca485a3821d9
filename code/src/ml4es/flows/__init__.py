"""Flow solvers that generate the course's own fluid-dynamics data (the cylinder wake)."""

from ml4es.flows.wake import wake_dataset

__all__ = ["wake_dataset"]
