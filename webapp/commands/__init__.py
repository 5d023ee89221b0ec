"""Commands of the `hotspots` CLI, one module per concern."""
