"""Pure rules and maths of matching: model types, availability, the volunteer index, retrieval,
constraints, ranking, unmatched explanations and assignment. No I/O library is imported here."""
