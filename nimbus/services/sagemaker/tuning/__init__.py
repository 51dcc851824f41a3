"""Hyperparameter tuning jobs: search spaces, strategies, their runner and their records."""
