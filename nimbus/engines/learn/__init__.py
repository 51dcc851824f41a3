"""Training: SageMaker's container contract (``/opt/ml``) without Docker, and the built-in algorithms
that run inside it. No AWS shapes here: a job is a folder, channels are paths, a result is an exit code."""
