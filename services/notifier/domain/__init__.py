"""The notifier's pure rules: who hears what, when a message may go out, what it says and how
it fits an SMS. No I/O library is imported here; every clock reading is passed in."""
