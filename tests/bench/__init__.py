"""`make bench`: the broker measured as a real process against the raw driver (never collected by pytest)."""
