"""One experiment configuration: its schema (:mod:`.schema`), its layers (:mod:`.layers`: defaults,
method tags, preset, ``--config`` file, options) and the specs it builds (:mod:`.build`).
"""

from automl_har.config.build import config_of, experiment_spec, search_spec
from automl_har.config.layers import Layer, load_config_file, resolve
from automl_har.config.schema import ExperimentConfig

__all__ = ["ExperimentConfig", "Layer", "config_of", "experiment_spec", "load_config_file", "resolve", "search_spec"]
