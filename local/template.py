"""Read template.yaml: parameters, resources, routes, and the functions' environment.

CloudFormation's short tags (!Ref, !GetAtt, !Sub) are kept as small objects and resolved
against the local names of resources (their logical ids). The template is read as
CloudFormation hands it to the SAM transform: its Fn::ForEach loops written out
(local.foreach); raw() is the file as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


@dataclass(frozen=True)
class Tag:
    name: str
    value: object


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tag:
    if isinstance(node, yaml.ScalarNode):
        value: object = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


# CloudFormation's tags on the safe loader: still no arbitrary objects, just Tag values.
yaml.SafeLoader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=1)
def raw() -> dict:
    """template.yaml as written, loops and all."""
    return yaml.safe_load(TEMPLATE.read_text())


@lru_cache(maxsize=1)
def load() -> dict:
    """template.yaml with its loops written out (every reader here wants the resources)."""
    from local import foreach  # it imports Tag from here

    return foreach.expand(raw())


@dataclass
class Route:
    method: str
    path: str
    function: str  # logical id
    module: str  # functions.<folder>.app
    api: str  # logical id of the HttpApi
    authorizer: str | None
    pattern: re.Pattern = field(repr=False, default=None)  # type: ignore[assignment]


def resources(kind: str) -> dict[str, dict]:
    return {
        name: resource for name, resource in load()["Resources"].items() if resource["Type"] == kind
    }


def parameter_defaults() -> dict[str, str]:
    return {
        name: str(spec.get("Default", ""))
        if not isinstance(spec.get("Default"), list)
        else ",".join(spec["Default"])
        for name, spec in load().get("Parameters", {}).items()
    }


def target(tag: Tag) -> str:
    """What a !Ref or !GetAtt names: "EmailQueue", or "EmailQueue.Arn" (either GetAtt form)."""
    return tag.value if isinstance(tag.value, str) else ".".join(tag.value)


def resolve(value: object, names: dict[str, str]) -> object:
    """Resolve !Ref, !Join, !FindInMap and the simple !Sub/!GetAtt forms used in function
    environments."""
    if isinstance(value, Tag):
        if value.name == "Join" and isinstance(value.value, list):
            separator, parts = value.value
            return separator.join(_list(parts, names))
        if value.name == "Ref":
            return names.get(str(value.value), parameter_defaults().get(str(value.value), ""))
        if value.name == "GetAtt":
            named = target(value)
            return names.get(named, named)
        if value.name == "FindInMap" and isinstance(value.value, list):
            mapping, top, second = (str(resolve(key, names)) for key in value.value)
            return load()["Mappings"][mapping][top][second]
        if value.name == "Sub":
            text = value.value if isinstance(value.value, str) else value.value[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(names.get(m.group(1), m.group(0))), text)
        return ""
    return value


def _list(value: object, names: dict[str, str]) -> list[str]:
    """The items of a list value: a YAML list, or !Ref to a CommaDelimitedList parameter."""
    if isinstance(value, list):
        return [str(resolve(item, names)) for item in value]
    if isinstance(value, Tag) and value.name == "Ref":
        parameter = load().get("Parameters", {}).get(str(value.value), {})
        if str(parameter.get("Type", "")).endswith("List"):
            return [item.strip() for item in str(resolve(value, names)).split(",")]
    return [str(resolve(value, names))]


def handler_of(function: dict) -> str:
    """The function's Handler ("app.handler"): its own, else the template's Globals'."""
    return function["Properties"].get("Handler") or load()["Globals"]["Function"]["Handler"]


def module_of(function: dict) -> str:
    code_uri = function["Properties"]["CodeUri"].strip("/").replace("/", ".")
    return f"{code_uri}.{handler_of(function).rsplit('.', 1)[0]}"


def _pattern(path: str) -> re.Pattern:
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


def routes() -> list[Route]:
    apis = resources("AWS::Serverless::HttpApi")
    found = []
    for name, function in resources("AWS::Serverless::Function").items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            api = props["ApiId"].value if isinstance(props.get("ApiId"), Tag) else None
            auth = props.get("Auth", {}).get("Authorizer")
            if auth is None and api:
                auth = apis[api]["Properties"].get("Auth", {}).get("DefaultAuthorizer")
            if auth == "NONE":
                auth = None
            found.append(
                Route(
                    method=props["Method"].upper(),
                    path=props["Path"],
                    function=name,
                    module=module_of(function),
                    api=api or "",
                    authorizer=auth,
                    pattern=_pattern(props["Path"]),
                )
            )
    return found


def function_environment(function_name: str, names: dict[str, str]) -> dict[str, str]:
    """Globals + the function's own variables, resolved to local names."""
    template = load()
    variables = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    function = template["Resources"][function_name]
    variables.update(function["Properties"].get("Environment", {}).get("Variables", {}))
    return {key: str(resolve(value, names)) for key, value in variables.items()}


def emulated_names(region: str, account: str = "123456789012") -> dict[str, str]:
    """Logical id -> name, as an emulation in this process gives them: a table by its
    logical id (as the local stack names it), a queue by the URL moto gives it."""
    names = {name: name for name in resources("AWS::DynamoDB::Table")}
    for queue in resources("AWS::SQS::Queue"):
        names[queue] = f"https://sqs.{region}.amazonaws.com/{account}/{queue}"
    return names


def required_environment(names: dict[str, str]) -> dict[str, str]:
    """The table and queue variables every function gets from Globals (config's Required
    settings), resolved with `names`."""
    first = next(iter(resources("AWS::Serverless::Function")))
    return {
        key: value
        for key, value in function_environment(first, names).items()
        if key.endswith(("_TABLE", "_QUEUE_URL"))
    }
