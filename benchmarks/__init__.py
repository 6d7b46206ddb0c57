"""Performance suite of ecosim (see README.md here)."""
