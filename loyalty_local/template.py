"""Read `template.yaml` the way the local runtime and the tests need it.

The template is the single source of truth for tables, functions, routes and
environments: tests and the local runtime derive everything from it so they
cannot drift from what is deployed. Locally a resource's physical name is its
logical id (so `!Ref MembersTable` is the table `MembersTable`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long form.

    cfn-lint's decoder (`cfnlint.decode.cfn_yaml.load`) gives the same result, but importing it costs
    0.9 s of CPU (3-4 s wall on a busy machine) against 0.07 s for this, in every process that reads
    the template: `make run`, each test session, each benchmark.
    """


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


# ------------------------------------------------------------------ intrinsics


def resolve(value: Any, template: dict[str, Any], parameters: dict[str, str] | None = None) -> Any:
    """Resolve Ref, GetAtt, Sub, If and Join locally (enough for environments and policies)."""
    params = _parameter_values(template, parameters)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: walk(item) for key, item in node.items()}
        (key, arg), = node.items()
        if key == "Ref":
            return _ref(arg, params)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return _get_att(logical_id, attribute, template)
        if key == "Fn::Sub":
            return _sub(arg, template, params, walk)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(walk(item)) for item in items)
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return walk(when_true if _condition(condition, template, params) else when_false)
        return {key: walk(arg)}

    return walk(value)


def _parameter_values(template: dict[str, Any], overrides: dict[str, str] | None) -> dict[str, str]:
    # A parameter the deployer must give (no Default) gets a local stand-in rather than stopping the runtime.
    values = {name: str(spec.get("Default", f"local-{name}")) for name, spec in template.get("Parameters", {}).items()}
    values.update(overrides or {})
    values.update(
        {
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::StackName": "loyalty-local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
    )
    return values


def _ref(name: str, params: dict[str, str]) -> str:
    return params.get(name, name)


def _get_att(logical_id: str, attribute: str, template: dict[str, Any]) -> str:
    resource_type = template["Resources"][logical_id]["Type"]
    if resource_type == "AWS::DynamoDB::Table" and attribute == "Arn":
        return f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{logical_id}"
    if attribute == "Arn":
        service = resource_type.split("::")[1].lower()
        return f"arn:aws:{service}:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{logical_id}"
    return f"{logical_id}.{attribute}"


def _sub(arg: Any, template: dict[str, Any], params: dict[str, str], walk) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], walk(arg[1]))
    out, rest = [], text
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        out.append(before)
        if name in variables:
            out.append(str(variables[name]))
        elif "." in name and not name.startswith("AWS::"):
            out.append(_get_att(*name.split(".", 1), template))
        else:
            out.append(_ref(name, params))
    out.append(rest)
    return "".join(out)


def _condition(name: str, template: dict[str, Any], params: dict[str, str]) -> bool:
    expression = template["Conditions"][name]
    (key, arg), = expression.items()
    if key != "Fn::Equals":
        raise NotImplementedError(f"condition {key} is not supported locally")
    left, right = (resolve(item, template, params) for item in arg)
    return str(left) == str(right)


# ------------------------------------------------------------------ tables


def table_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`create_table` arguments for every DynamoDB table, named by logical id."""
    definitions = {}
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = props[key]
        if "StreamSpecification" in props:  # CloudFormation implies StreamEnabled; the API wants it said
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        definitions[logical_id] = kwargs
    return definitions


def create_tables(dynamodb_client, template: dict[str, Any] | None = None) -> list[str]:
    """Create every table of the template with the given boto3 DynamoDB client."""
    created = []
    for kwargs in table_definitions(template or load_template()).values():
        dynamodb_client.create_table(**kwargs)
        created.append(kwargs["TableName"])
    return created


# ------------------------------------------------------------------ functions


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scopes: tuple[str, ...]
    public: bool = False  # `Auth: {Authorizer: NONE}`: no bearer token (the unsubscribe link)


@dataclass(frozen=True)
class StreamSource:
    """A function's DynamoDB stream event source, and what Lambda does with a batch that fails."""

    table: str  # the table's logical id
    max_retry_attempts: int = -1  # Lambda's default: retried until the records leave the stream
    report_item_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    on_failure: str | None = None  # the SQS queue (logical id) told of a batch given up on
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria's patterns: a record matching none is not delivered


def stream_source(event_props: dict[str, Any]) -> StreamSource:
    destination = event_props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return StreamSource(
        table=event_props["Stream"]["Fn::GetAtt"][0],
        max_retry_attempts=int(event_props.get("MaximumRetryAttempts", -1)),
        report_item_failures="ReportBatchItemFailures" in event_props.get("FunctionResponseTypes", []),
        on_failure=destination["Fn::GetAtt"][0] if isinstance(destination, dict) else None,
        filters=tuple(json.loads(f["Pattern"]) for f in event_props.get("FilterCriteria", {}).get("Filters", [])),
    )


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    environment: dict[str, str]
    routes: tuple[Route, ...]
    schedules: tuple[dict[str, Any], ...]
    streams: tuple[StreamSource, ...] = ()  # the table streams that invoke the function


def functions(template: dict[str, Any] | None = None, parameters: dict[str, str] | None = None) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function with Globals applied and intrinsics resolved."""
    template = template or load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        environment = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        routes, schedules, streams = [], [], []
        for event in props.get("Events", {}).values():
            event_props = event.get("Properties", {})
            if event["Type"] == "HttpApi":
                auth = event_props.get("Auth", {})
                routes.append(Route(event_props["Method"].upper(), event_props["Path"], tuple(auth.get("AuthorizationScopes", [])),
                                    auth.get("Authorizer") == "NONE"))
            elif event["Type"] in ("Schedule", "ScheduleV2"):
                schedules.append(event_props)
            elif event["Type"] == "DynamoDB":
                streams.append(stream_source(event_props))
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=ROOT / props["CodeUri"],
            handler=props.get("Handler", globals_.get("Handler", "")),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            environment={k: str(v) for k, v in resolve(environment, template, parameters).items()},
            routes=tuple(routes),
            schedules=tuple(schedules),
            streams=tuple(streams),
        )
    return specs
