"""Fixtures shared by every test module: real servers for the shared-cache tests."""

pytest_plugins = ["tests.servers"]
