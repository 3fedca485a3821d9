"""Data-driven models of dynamical systems: Lorenz systems, chaos diagnostics and emulators."""
