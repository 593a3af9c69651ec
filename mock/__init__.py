"""cloud-backup-mock: a contract-first mock server and test double for the Cloud Backup API v2."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cloud-backup-mock")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"
