"""Start, probe and stop a local MLflow server over a workspace (sqlite store + artifact dir)."""

from automl_har.mlflow_server._server import MlflowServer, free_port, is_healthy, start_server, ui_url

__all__ = ["MlflowServer", "free_port", "is_healthy", "start_server", "ui_url"]
