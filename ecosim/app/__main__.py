"""``python -m ecosim.app``: the same as the ``ecosim-app`` command."""

from ecosim.app.main import main

main()
