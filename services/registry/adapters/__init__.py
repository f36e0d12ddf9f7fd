"""Tables, queries and the unit of work: everything that speaks SQL."""
