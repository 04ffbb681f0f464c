"""Thin adapters: translate updates into domain events and effects into API calls."""
