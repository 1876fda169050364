"""Campaign copy drafts (docs/DOMAIN.md §6): the catalogue of campaign kinds and products, options,
rendering from templates, the lint of every variant, and the approval step.

Data flows one way: commands → `service` (steps and guards) → `bot.store.campaigns` (SQL) and
`render`/`checks` (pure given their inputs) → neutral replies (`replies`).
"""
