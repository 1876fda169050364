"""One module per chat command; importing this package registers them all with the core."""

from commands import churn, followup, help, maturing, size, tier, whoami  # noqa: F401
