"""Access control: JWT verification, the route → scope table, and the middleware that enforces it."""
