"""``simtel`` sub-commands, one module per group."""
