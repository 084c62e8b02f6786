"""MongoDB adapters: the only package that speaks to the database."""
