"""Detect: the per-device detectors, the streaming anomaly detector and the NAB scorer (numpy only)."""
