"""The commands of API v1."""
