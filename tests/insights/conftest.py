"""What the insights tests share: an Athena client under botocore's Stubber (no AWS), every stubbed answer used."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def athena():
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
