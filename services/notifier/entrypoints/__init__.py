"""What calls the notifier from outside: the consumers of matcher and registry events."""
