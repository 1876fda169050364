"""Daily and weekly pushes: lists → messages → outbox rows → delivery, exactly once per row."""
