"""Business metrics (CloudWatch EMF) for one handler module."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider


def instance_metrics() -> Metrics:
    """Metrics whose metric and dimension sets belong to this handler module.

    Powertools keeps them at class level by default, shared by every Metrics object of the process.
    In Lambda a process serves one invocation at a time, so that is harmless there; but handler copies
    run side by side in one process (the race tests) then flush each other's sets mid-way
    ("dictionary changed size during iteration", "Must contain at least one metric").
    """
    return Metrics(provider=AmazonCloudWatchEMFProvider(metric_set={}, dimension_set={}, metadata_set={}, default_dimensions={}))
