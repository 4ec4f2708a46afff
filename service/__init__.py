"""Sharing and engagement service for news article pages."""

__version__ = "0.1.0"
