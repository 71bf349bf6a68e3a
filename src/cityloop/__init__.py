"""CityLoop: one closed loop for a city's hotline, government services and city brain."""

__version__ = "0.1.0"
