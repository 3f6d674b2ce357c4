"""Helpers shared by every Lambda of this project; the bundler copies this package into each asset."""
