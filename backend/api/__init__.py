"""HTTP blueprints: thin adapters from requests to use cases."""
