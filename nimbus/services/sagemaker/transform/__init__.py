"""Batch transform: the record logic (splitting, batching, filters, join, assembly), each in its own
small module with no I/O, and the runner that moves a job's objects through the model's workers."""
