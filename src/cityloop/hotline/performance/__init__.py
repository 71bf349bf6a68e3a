"""Performance (考核): the monthly counts, the three rates, rankings, the leaders' pages."""
