"""Templates and static files of the user interface."""
