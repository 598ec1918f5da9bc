"""A folder of JPEG/PNG images as a torch dataset of fixed-size RGB tensors (for image pre-training).

Any folder works (e.g. an ImageNet ``train/`` tree): files ending in ``.jpg``, ``.jpeg`` or
``.png`` (any case) are found recursively, read with Pillow, converted to RGB and resized
(bilinear) to ``width x height``; 128x96 as in IMG2IMU (Yoon et al., Sec. IV-A2). Items are
``(3, height, width)`` uint8 tensors, like the images on disk; scale them to [0, 1] per batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from automl_har.errors import DataFormatError, DatasetNotFoundError, DependencyError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def image_files(folder: str | Path) -> list[Path]:
    """Every JPEG/PNG file under ``folder`` (recursive), sorted by path."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"image folder {root} does not exist; pass --images pointing to a folder of JPEG/PNG files")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DatasetNotFoundError(f"no .jpg/.jpeg/.png file under {root}; pass --images pointing to a folder of images")
    return files


def folder_hash(files: list[Path], root: str | Path) -> str:
    """Content hash of the images (relative paths and bytes): the data part of a cache key."""
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(root)).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


class ImageFolder(Dataset):
    """Images of a folder tree, each as a ``(3, height, width)`` uint8 tensor.

    Args:
        folder: root folder, searched recursively.
        height: output height in pixels (96 in the paper).
        width: output width in pixels (128 in the paper).
    """

    def __init__(self, folder: str | Path, height: int = 96, width: int = 128) -> None:
        try:
            import PIL.Image  # noqa: F401
        except ImportError as err:  # pragma: no cover - Pillow comes with matplotlib
            raise DependencyError("reading image folders needs Pillow; run `pip install pillow`") from err
        self.root = Path(folder).expanduser()
        self.files = image_files(self.root)
        self.height, self.width = height, width

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        from PIL import Image

        path = self.files[index]
        try:
            with Image.open(path) as image:
                image = image.convert("RGB").resize((self.width, self.height), Image.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
        except (OSError, ValueError) as err:
            raise DataFormatError(f"cannot read image {path} ({err}); remove or replace the file") from err
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1)  # (3, H, W)

    def content_hash(self) -> str:
        return folder_hash(self.files, self.root)
