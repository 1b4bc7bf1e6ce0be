"""File tail: follow files by glob through rotation and truncation, checkpointing after acknowledgement."""
