"""Physics-informed neural networks: the heat equation (``heat``), the Navier–Stokes inverse problem
(``navier_stokes``) and hidden fluid mechanics (``hidden_fluid``), with their checkers and plots."""
