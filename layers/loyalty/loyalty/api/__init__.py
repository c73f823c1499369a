"""The shared HTTP base: the one resolver (error mapping), fields every feature's models share, metrics, tracing.

Each feature's request and response models are in its own folder (loyalty/<feature>/api.py)."""
