"""Loaders for the segmentation data sets: CamVid street scenes and UKV lee-wave fields.

Files come through :mod:`ml4es.data` (hash-checked, from the cache, the mirror or the web).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import xarray as xr
from PIL import Image
from tqdm.auto import tqdm

from ml4es import data

# CamVid in the SegNet 11-class version: label values 0-10, and 11 for void (unlabelled).
CAMVID_CLASSES = (
    "sky", "building", "pole", "road", "pavement", "tree",
    "sign", "fence", "car", "pedestrian", "cyclist",
)
CAMVID_VOID = 11
# Display colours (RGB) in the usual CamVid palette; void is black.
CAMVID_COLOURS = np.array(
    [
        (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
        (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
        (0, 128, 192), (0, 0, 0),
    ],
    dtype=np.uint8,
)
CAMVID_SPLITS = ("train", "val")


@dataclass(frozen=True)
class SegmentationSet:
    """Images (N x 3 x H x W, float32 in [0, 1]) and labels (N x H x W, int64) with their names."""

    images: torch.Tensor
    labels: torch.Tensor
    names: tuple[str, ...]
    classes: tuple[str, ...]
    colours: np.ndarray
    ignore_index: int

    def __len__(self) -> int:
        return len(self.names)


def camvid_files(split: str) -> list[tuple[str, str]]:
    """Return the (image, label) file names of a CamVid split, as listed in ``<split>.txt``."""
    if split not in CAMVID_SPLITS:
        raise ValueError(f"unknown CamVid split {split!r}; expected one of {CAMVID_SPLITS}")
    listing = data.fetch("camvid", f"{split}.txt").read_text().split()
    # Entries read "/SegNet/CamVid/train/0001TP_006690.png": keep the part after "CamVid/".
    names = [entry.split("CamVid/", 1)[-1] for entry in listing]
    return list(zip(names[0::2], names[1::2]))


def load_camvid(split: str, size: tuple[int, int] = (240, 180), progress: bool = True) -> SegmentationSet:
    """Load a CamVid split, resized to ``size`` = (width, height).

    Images are resized with area averaging, labels by nearest neighbour, so labels stay valid
    class numbers.
    """
    width, height = size
    if width < 16 or height < 16:
        raise ValueError(f"size {size} is too small; expected (width, height) of 16 pixels or more")
    pairs = camvid_files(split)
    images = np.empty((len(pairs), height, width, 3), dtype=np.uint8)
    labels = np.empty((len(pairs), height, width), dtype=np.uint8)
    for i, (image_name, label_name) in enumerate(tqdm(pairs, desc=f"CamVid {split}", disable=not progress)):
        with Image.open(data.fetch("camvid", image_name)) as image:
            images[i] = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BOX))
        with Image.open(data.fetch("camvid", label_name)) as label:
            labels[i] = np.asarray(label.resize(size, Image.Resampling.NEAREST))
    if labels.max() > CAMVID_VOID:
        raise ValueError(f"invalid label {labels.max()} in CamVid {split}; expected 0 to {CAMVID_VOID}")
    return SegmentationSet(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0),
        labels=torch.from_numpy(labels).long(),
        names=tuple(image for image, _ in pairs),
        classes=CAMVID_CLASSES,
        colours=CAMVID_COLOURS,
        ignore_index=CAMVID_VOID,
    )


_UKV_TIME = re.compile(r"(\d{8}T\d{4})Z")


def leewave_frames() -> list[tuple[pd.Timestamp, str, str]]:
    """Return (time, field file, mask file) for every UKV frame in the registry, in time order."""
    registry = data.DATASETS["leewaves"].registry
    fields = {_UKV_TIME.search(name).group(1): name for name in registry if name.endswith(".nc")}
    masks = {_UKV_TIME.search(name).group(1): name for name in registry if name.endswith(".png")}
    missing = sorted(set(fields) ^ set(masks))
    if missing:
        raise ValueError(f"UKV frames without both a field and a mask: {missing}")
    return [(pd.Timestamp(stamp), fields[stamp], masks[stamp]) for stamp in sorted(fields)]


def load_leewaves(days=None, progress: bool = True) -> xr.Dataset:
    """Load the UKV 700 hPa vertical velocity and the hand-drawn lee-wave masks.

    Returns a Dataset with ``w`` (time, y, x) in m/s and ``mask`` (time, y, x), 1 where an
    analyst drew lee waves, on the UKV grid (2 km spacing, metres). ``days`` picks days of
    January 2021 (1-18); all frames by default.
    """
    frames = leewave_frames()
    if days is not None:
        days = sorted(set(int(day) for day in days))
        known = sorted({time.day for time, _, _ in frames})
        unknown = [day for day in days if day not in known]
        if unknown:
            raise ValueError(f"no UKV frames on day(s) {unknown} of January 2021; days are {known}")
        frames = [frame for frame in frames if frame[0].day in days]
    fields, masks = [], []
    for _, field_name, mask_name in tqdm(frames, desc="UKV lee waves", disable=not progress):
        with xr.open_dataset(data.fetch("leewaves", field_name)) as ds:
            fields.append(ds["upward_air_velocity"].load())
        with Image.open(data.fetch("leewaves", mask_name)) as image:
            # Row 0 of the PNG is the southernmost row, as in the netCDF arrays.
            masks.append(np.asarray(image).astype(np.uint8))
    first = fields[0]
    x = first["projection_x_coordinate"].values
    y = first["projection_y_coordinate"].values
    return xr.Dataset(
        {
            "w": (("time", "y", "x"), np.stack([f.values for f in fields]).astype(np.float32),
                  {"long_name": "upward air velocity at 700 hPa", "units": "m s-1"}),
            "mask": (("time", "y", "x"), np.stack(masks),
                     {"long_name": "hand-drawn trapped lee-wave mask", "flag_values": "0 1"}),
        },
        coords={
            "time": [time for time, _, _ in frames],
            "y": ("y", y, {"long_name": "projection y coordinate", "units": "m"}),
            "x": ("x", x, {"long_name": "projection x coordinate", "units": "m"}),
        },
        attrs={"source": "Met Office UKV analyses, masks of Coney et al. (2024)",
               "grid_spacing_m": float(x[1] - x[0])},
    )


def split_by_day(times, validation_days, test_days) -> dict[str, np.ndarray]:
    """Return the frame indices of the train, validation and test days; a day sits in one only."""
    days = pd.DatetimeIndex(times).day
    validation_days, test_days = set(validation_days), set(test_days)
    both = validation_days & test_days
    if both:
        raise ValueError(f"day(s) {sorted(both)} are in both the validation and the test split")
    return {
        "train": np.flatnonzero(~days.isin(validation_days | test_days)),
        "validation": np.flatnonzero(days.isin(validation_days)),
        "test": np.flatnonzero(days.isin(test_days)),
    }
