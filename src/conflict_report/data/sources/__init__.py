"""Source adapters: each reads one kind of input and maps it to the event table in schema.py."""
