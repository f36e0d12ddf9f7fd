"""What calls the matcher from outside: the consumers of registry events."""
