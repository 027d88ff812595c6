"""penguin: personalized safety for LLMs (the PENGUIN benchmark and the RAISE agent)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("penguin-safety")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"
