"""One module per dataset, each reading the publisher's own file format and registering itself."""

from automl_har.data.loaders import (
    custom,
    daphnet,
    hhar,
    mobiact,
    motionsense,
    pamap2,
    pvs,
    realworld,
    synthetic,
    uci_har,
    usc_had,
    utd_mhad,
    watch,
    wisdm,
)

__all__ = [
    "custom", "daphnet", "hhar", "mobiact", "motionsense", "pamap2", "pvs", "realworld", "synthetic", "uci_har",
    "usc_had", "utd_mhad", "watch", "wisdm",
]
