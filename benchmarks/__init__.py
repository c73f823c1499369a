"""`make bench`: every benchmark module's main(), in one run."""
