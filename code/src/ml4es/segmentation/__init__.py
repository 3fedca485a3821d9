"""Semantic segmentation: data loaders, a U-Net, metrics and lee-wave tools."""
