"""One module per dataset, each reading the publisher's own file format and registering itself."""

from automl_har.data.loaders import custom, daphnet, synthetic, utd_mhad, watch

__all__ = ["custom", "daphnet", "synthetic", "utd_mhad", "watch"]
