"""Reading an ``.npz`` file of named arrays, safely: numbers and strings only.

Shared by the custom ``.npz`` loader and ``autohar predict`` (both read the format of
docs/custom-data.md). Loading keeps ``allow_pickle=False``: unpickling runs code from the file,
so an object array is refused with a fix that stays safe, and a file that is no npz at all is
called corrupt (numpy would suggest ``allow_pickle`` for it, which is wrong and unsafe).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from automl_har.errors import DataFormatError, first_line

_FIX = "write it with np.savez (see docs/custom-data.md)"
#: what numpy and zipfile raise on a damaged file or member
_DAMAGED = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path``, by name.

    Raises:
        DataFormatError: the file is not an npz (corrupt, another format, one unnamed ``.npy``
            array), or one of its members is damaged, not an array, or stores Python objects.
    """
    path = Path(path)

    def invalid(why: str) -> DataFormatError:
        return DataFormatError(f"{path} is not a valid .npz file: {why}; {_FIX}")

    try:
        npz = np.load(path, allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err):  # neither a zip archive nor an .npy array: numpy tried to unpickle it
            raise invalid("it is corrupt or in another format (not a zip archive of .npy arrays)") from None
        raise invalid(f"it is corrupt ({first_line(err)})") from None
    except _DAMAGED as err:
        raise invalid(f"it is corrupt ({first_line(err)})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise invalid("it holds one unnamed array (an .npy file); save named arrays, e.g. np.savez(path, X_acc=x)")
    arrays = {}
    with npz:
        for key in npz.files:
            try:
                value = npz[key]
            except ValueError as err:
                if "pickle" in str(err):
                    raise invalid(f"array {key!r} stores Python objects (dtype=object); save numbers, or "
                                  "strings as np.array(values, dtype=str)") from None
                raise invalid(f"array {key!r} is corrupt ({first_line(err)})") from None
            except _DAMAGED as err:
                raise invalid(f"array {key!r} is corrupt ({first_line(err)})") from None
            if not isinstance(value, np.ndarray):  # a zip member that is no .npy file comes back as bytes
                raise invalid(f"member {key!r} is not a .npy array")
            arrays[key] = value
    return arrays
