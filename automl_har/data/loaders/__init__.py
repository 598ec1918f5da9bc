"""One module per dataset, each reading the publisher's own file format and registering itself."""

from automl_har.data.loaders import (
    custom,
    daphnet,
    motionsense,
    pvs,
    synthetic,
    uci_har,
    usc_had,
    utd_mhad,
    watch,
    wisdm,
)

__all__ = ["custom", "daphnet", "motionsense", "pvs", "synthetic", "uci_har", "usc_had", "utd_mhad", "watch", "wisdm"]
