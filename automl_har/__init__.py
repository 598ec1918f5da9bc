"""autohar: hyperparameter search for few-label human activity recognition."""

__version__ = "0.1.0"
