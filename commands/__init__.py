"""One module per chat command; importing this package registers them all with the core."""

from commands import followup, help, size, tier, whoami  # noqa: F401
