"""The registry's server-rendered pages: forms, languages and helpers."""
