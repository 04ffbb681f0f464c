"""The pure core: conversation rules, matching and content models.

Nothing in this package imports telegram or sqlalchemy: it turns
(state, event, content, time) into (next state, effects).
"""

# KNOTBOT_RETENTION_DAYS' default, its one home: the domain tells it in /privacy (Env.retention_days)
# and may import nothing outside bot.domain, so bot.settings, bot.service and bot.retention import it
# from here (this package module is light: reading the settings loads no matcher)
DEFAULT_RETENTION_DAYS = 180
