"""Flow solvers that generate the course's own fluid-dynamics data (the cylinder wake)."""
