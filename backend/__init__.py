"""Dental Images: the backend of the desktop dental image system."""

__version__ = "0.1.0"
