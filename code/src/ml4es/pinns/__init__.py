"""Physics-informed neural networks: the heat equation (``heat``) and its exercise checkers."""
