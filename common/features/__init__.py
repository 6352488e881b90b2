"""Leak-free training features per (race, driver) from iRacing results, in ml_training_data."""

from .build import BuildInProgress, rebuild_features, rebuild_options

__all__ = ["BuildInProgress", "rebuild_features", "rebuild_options"]
