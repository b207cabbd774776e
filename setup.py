"""Package layout that pyproject.toml cannot say on its own: `data/` ships as `faregate_data`.

Every folder of our packages is listed, data-only ones too (migrations/versions, web/static/*,
templates): setuptools warns about, and will one day drop, data in a folder Python could
import that `packages` leaves out. Every subfolder of data/ (hanoi/, tariffs/, ...) becomes a
data-only subpackage of faregate_data, so new folders ship without an edit here. Metadata,
dependencies and package data: pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

OURS = ("qr", "ticketing", "parking", "gateways", "simulators", "faregate")
NOT_PACKAGES = ["*__pycache__*"]

setup(
    packages=[
        *find_namespace_packages(
            include=[*OURS, *(f"{name}.*" for name in OURS)], exclude=NOT_PACKAGES
        ),
        "faregate_data",
        *(
            f"faregate_data.{sub}"
            for sub in find_namespace_packages(where="data", exclude=NOT_PACKAGES)
        ),
    ],
    package_dir={"faregate_data": "data"},
)
