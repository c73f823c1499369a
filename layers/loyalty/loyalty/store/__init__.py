"""Data access: pynamodb models and the store operations the use cases need."""
