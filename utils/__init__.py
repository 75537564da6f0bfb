"""Shared building blocks of the lurge scripts (config, inputs, passes, outputs)."""
