"""Wire compatibility with the official Timeback server SDK (issue 9)."""
