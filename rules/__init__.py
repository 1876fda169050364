"""Pure business rules: functions over plain data, no database, no network, no clock.

Every rule takes the thresholds it needs from a `Policy` object (see `policy.py`) so that a
bank changes its numbers in a YAML file, not in code, and every result carries `Reason`s so
the bot can say which rule fired and with which numbers.
"""
