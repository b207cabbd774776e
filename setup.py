"""Package layout that pyproject.toml cannot say on its own: `data/` ships as `faregate_data`.

Every subfolder of data/ (hanoi/, tariffs/, ...) becomes a data-only subpackage, so new
folders ship without an edit here. Metadata, dependencies and package data: pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

setup(
    packages=[
        *find_packages(
            include=["qr*", "ticketing*", "parking*", "gateways*", "simulators*", "faregate*"]
        ),
        "faregate_data",
        *(
            f"faregate_data.{sub}"
            for sub in find_namespace_packages(where="data", exclude=["*__pycache__*"])
        ),
    ],
    package_dir={"faregate_data": "data"},
)
