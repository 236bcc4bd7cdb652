"""Hotlead's edge: the CLI, settings, the HTTP app and the chat channels."""
