"""Measuring the device's models against ground truth (multi-object tracking: :mod:`.tracking`)."""
