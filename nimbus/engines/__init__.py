"""Engines: the ML itself. No HTTP, no AWS shapes; importable and testable without the server."""
