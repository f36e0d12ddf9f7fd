"""How the registry is reached: HTTP routes, pages, internal look-ups and event consumers."""
