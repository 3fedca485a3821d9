"""Autoencoders for geophysical fields: models, data, reference methods (PCA/POD) and checkers."""
