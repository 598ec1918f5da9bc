"""The typer CLI; ``automl_har.cli.main:app`` is the ``autohar`` console script."""
