"""Gaussian processes with GPyTorch: the Mauna Loa CO2 model, an emulator and a sparse GP."""
