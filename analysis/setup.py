"""The dependencies of the analysis package (the rest is pyproject.toml).
Debian's python3-h5py registers its distribution as h5py.-debian-h5py-serial
(or -mpi), which pip does not count as h5py: where one of those is installed
(pip install --no-build-isolation with Debian's packages), the h5py it
provides is used and the requirement is left out; everywhere else all five
are required."""
from importlib import metadata

from setuptools import setup

DEPENDENCIES = ["numpy", "h5py", "pandas", "xarray", "matplotlib"]


def debian_h5py():
    names = ((d.metadata["Name"] or "").lower().replace("_", "-") for d in metadata.distributions())
    return any(n.startswith("h5py.-debian-h5py") for n in names)


setup(install_requires=[d for d in DEPENDENCIES if not (d == "h5py" and debian_h5py())])
