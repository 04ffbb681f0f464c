"""The pure core: conversation rules, matching and content models.

Nothing in this package imports telegram or sqlalchemy: it turns
(state, event, content, time) into (next state, effects).
"""
