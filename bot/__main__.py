"""``python -m bot`` is the same as the ``knotbot`` command."""

from bot.cli import main

raise SystemExit(main())
