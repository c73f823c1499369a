"""template.yaml's cold-start options: SnapStart on the API functions (off by default) and the X-Ray Tracer
(on by default; benchmarks/cold_start.py measures its cost against enroll-xray, the enroll without it)."""

from tests.test_template import FUNCTIONS, TEMPLATE

API_FUNCTIONS = {name for name, function in FUNCTIONS.items()
                 if any(event["Type"] == "HttpApi" for event in function["Properties"].get("Events", {}).values())}


def test_the_api_functions_are_those_that_serve_routes():
    assert API_FUNCTIONS == {"EnrollFunction", "EarnFunction", "RedeemFunction", "CatalogFunction", "CampaignsFunction",
                             "ReportFunction", "InsightsFunction", "WebhooksFunction", "ProgramFunction", "MessagesFunction"}


def test_snapstart_is_a_parameter_off_by_default_applied_to_the_published_versions_of_the_api_functions():
    parameter = TEMPLATE["Parameters"]["ApiSnapStart"]
    assert parameter["Default"] == "false" and set(parameter["AllowedValues"]) == {"true", "false"}
    assert TEMPLATE["Conditions"]["UseSnapStart"] == {"Fn::Equals": [{"Ref": "ApiSnapStart"}, "true"]}
    assert "SnapStart" not in TEMPLATE["Globals"]["Function"]
    for name, function in FUNCTIONS.items():
        properties = function["Properties"]
        if name not in API_FUNCTIONS:
            assert "SnapStart" not in properties, name
            continue
        # SnapStart applies to published versions only: API Gateway must invoke the alias SAM publishes.
        assert properties["AutoPublishAlias"] == "live", name
        assert properties["SnapStart"] == {"ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}}, name


def test_the_tracer_is_a_parameter_on_by_default_and_never_records_responses():
    parameter = TEMPLATE["Parameters"]["XRayTracer"]
    assert parameter["Default"] == "true" and set(parameter["AllowedValues"]) == {"true", "false"}
    assert TEMPLATE["Conditions"]["UseTracer"] == {"Fn::Equals": [{"Ref": "XRayTracer"}, "true"]}
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Tracing"] == "Active"  # Lambda's own segments, Tracer or not
    variables = globals_["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["UseTracer", "false", "true"]}
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
