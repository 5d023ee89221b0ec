"""The web application and the `hotspots` command line."""
