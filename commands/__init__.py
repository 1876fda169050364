"""One module per chat command; importing this package registers them all with the core."""

from commands import approve, campaign, churn, followup, help, lint, maturing, size, summary, tier, whoami  # noqa: F401
