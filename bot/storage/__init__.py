"""Persistence: SQLAlchemy tables, the engine and one transaction per update."""
