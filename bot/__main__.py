"""`python -m bot` is the `rmbot` command, for hosts where the console script is not on PATH."""

from bot.cli import main

if __name__ == "__main__":
    main()
