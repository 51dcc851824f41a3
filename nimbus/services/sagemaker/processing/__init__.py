"""Processing jobs: each instance's /opt/ml/processing folder, and the runner."""
