"""Welding pre-labeling: a run's dataset JSON -> camera image plus current, electrode and voltage plots."""
