"""Faregate's shipped data: fare feeds and tariffs, each number with its source (README.md).

In the repository this is the `data/` folder; installed, it is the `faregate_data` package
(pyproject.toml maps one onto the other), so the files travel in the wheel and are found
with `importlib.resources` wherever Faregate is installed. Every subfolder ships whole.

    from faregate_data import HANOI_FEED, data_path
    load_feed(HANOI_FEED)                         # the Hanoi GTFS feed folder
    data_path("tariffs", "hanoi-parking.toml")    # any other shipped file or folder

It imports nothing of ours, so every package may use it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from faregate_data.errors import MissingDataError

__all__ = ["HANOI_FEED", "MissingDataError", "data_path"]


def data_path(*parts: str) -> Path:
    """The file-system path of the shipped data file or folder `parts` (e.g. "hanoi").

    Installs (wheel or editable) unpack the package on disk, so the resource is a real path;
    a zipped install, or a name that was not shipped, raises MissingDataError.
    """
    resource = files(__name__).joinpath(*parts)
    if not isinstance(resource, Path):
        raise MissingDataError(f"faregate_data is not on the file system ({resource!r})")
    if not resource.exists():
        raise MissingDataError(f"no shipped data at {resource}")
    return resource


HANOI_FEED = data_path("hanoi")
"""The Hanoi fare feed (GTFS with Fares v2 and Faregate's extension files)."""
