"""What the notifier talks to: its tables, the registry's contact look-ups, SMTP and the SMS
provider."""
