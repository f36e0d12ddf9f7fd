"""The registry: the system of record of organisations, volunteers, requests and offers.

- ``domain``: the rules, with no I/O.
- ``usecases/``: what people and the matcher do, one module per thing acted on.
- ``adapters/``: the tables, every query (repositories) and the unit of work.
- ``entrypoints/``: the API, the pages, the notifier's look-up and the matcher's events; each
  turns what arrives into one use-case call and its answer.
- ``bootstrap``: settings, database, broker and app wired together once.
"""
