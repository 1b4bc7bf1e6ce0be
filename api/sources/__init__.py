"""Sources: declared senders merged with their health (last event, rate, parse errors, silence)."""
