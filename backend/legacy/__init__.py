"""Reading the earlier app's data (legacy-formats.md), never writing it: its database, its image
roots and path forms, its tooth notation, and the plan of what comes across."""
