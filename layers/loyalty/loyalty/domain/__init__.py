"""Pure loyalty rules on plain values: no boto3, no pynamodb, no HTTP."""
