"""Knotbot: a Telegram bot that coaches safe self-massage of muscle knots."""

__version__ = "0.1.0"
