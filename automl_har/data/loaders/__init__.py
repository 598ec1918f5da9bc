"""One module per dataset, each reading the publisher's own file format and registering itself."""

from automl_har.data.loaders import daphnet, synthetic, utd_mhad, watch

__all__ = ["daphnet", "synthetic", "utd_mhad", "watch"]
from automl_har.data.loaders import custom  # noqa: F401
