"""Development-side tooling: reads template.yaml, runs the SAM application on a laptop."""
