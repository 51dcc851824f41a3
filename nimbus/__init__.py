"""Nimbus: a self-hosted ML cloud that speaks the AWS APIs."""

__version__ = "0.1.0"
