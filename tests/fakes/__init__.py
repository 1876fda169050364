"""Fakes of the chat platforms' servers, speaking real HTTP on 127.0.0.1 (no network needed)."""
