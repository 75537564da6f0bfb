"""Shared pytest fixtures: each real service has its own fixture module."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.slapd",
    "tests.fixtures.s3",
    "tests.fixtures.fakes",
]
