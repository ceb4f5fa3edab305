"""Talking to the service: capturing endpoint responses and checking them."""
