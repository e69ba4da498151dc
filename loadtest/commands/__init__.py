"""One module per ``headroom`` sub-command: its arguments and what it does."""
