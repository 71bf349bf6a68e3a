"""Handling (办理): dispatch, the units' work on their orders, the brain's cases, search and detail pages."""
