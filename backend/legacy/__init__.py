"""Reading the earlier app's data (legacy-formats.md) and bringing it into ours: its database,
its image roots and path forms, its tooth notation."""
