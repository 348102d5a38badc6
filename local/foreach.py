"""CloudFormation's Fn::ForEach (the AWS::LanguageExtensions transform), written out here as
CloudFormation writes it out before the SAM transform runs, for whatever reads template.yaml
on this machine: the local stack and the tests (local.template.load()), and checkov, which
cannot read a loop (`make lint` scans the file `python -m local.foreach` writes).

A loop, in Conditions, Resources or Outputs, or in any mapping within them:

    Fn::ForEach::<LoopName>: [<Identifier>, [<value>, ...], {<OutputKey>: <OutputValue>, ...}]

is replaced by one copy of its fragment per value, in place of the loop's key. In a copy:

- each OutputKey (a key of the fragment) has `${Identifier}` replaced by the value and
  `&{Identifier}` by the value without its non-alphanumeric characters; it must name the
  identifier, or every copy would have the same key;
- `!Ref Identifier` is the value;
- `${Identifier}` in a `!Sub` string is the value; a `!Sub` left without variables is its
  string (the same value once deployed), so `!Ref {Fn::Sub: "${Function}"}` is
  `!Ref AuthLoginFunction`: the construct AWS's RFC uses to name a looped resource, read as
  its equivalent template says and as cfn-lint's and SAM CLI's own expanders read it.

What the template does not need, and whose reading is not pinned, is refused rather than
guessed: a collection that is not a literal list of strings (a `!Ref` to a parameter would
be read with its default here and with the deployed value by CloudFormation), and the
identifier anywhere else in a fragment: in a plain string, or in a key below an OutputKey
(AWS's page says every `${Identifier}` is replaced; cfn-lint replaces only those in keys and
`!Sub`, so the template writes `!Sub`, where both agree).
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from local.template import Tag

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
SERVERLESS = "AWS::Serverless-2016-10-31"
PREFIX = "Fn::ForEach::"
SECTIONS = ("Conditions", "Resources", "Outputs")


class ForEachError(ValueError):
    """A loop CloudFormation would refuse, or one whose reading is not pinned (see above)."""


def is_loop(key: object) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


def has_loops(document: dict) -> bool:
    return any(_loops_in(document.get(section)) for section in SECTIONS)


def expand(document: dict) -> dict:
    """A copy of the template with every loop written out and AWS::LanguageExtensions gone
    from its Transform, as CloudFormation hands it to the SAM transform."""
    transforms = _transforms(document)
    result = copy.deepcopy(document)
    if LANGUAGE_EXTENSIONS not in transforms:
        if has_loops(document):
            raise ForEachError(f"Fn::ForEach needs Transform {LANGUAGE_EXTENSIONS}")
        return result
    if SERVERLESS in transforms and transforms.index(SERVERLESS) < transforms.index(
        LANGUAGE_EXTENSIONS
    ):
        raise ForEachError(f"{LANGUAGE_EXTENSIONS} must come before {SERVERLESS}")
    names = set(document.get("Parameters") or {}) | {
        key for key in document.get("Resources") or {} if not is_loop(key)
    }
    for section in SECTIONS:
        if section in result:
            result[section] = _walk(result[section], {}, names)
    remaining = [name for name in transforms if name != LANGUAGE_EXTENSIONS]
    if not remaining:
        del result["Transform"]
    else:
        result["Transform"] = remaining[0] if len(remaining) == 1 else remaining
    return result


def _transforms(document: dict) -> list[str]:
    transform = document.get("Transform", [])
    return [transform] if isinstance(transform, str) else list(transform)


def _loops_in(value: object) -> bool:
    if isinstance(value, dict):
        return any(is_loop(key) or _loops_in(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_loops_in(item) for item in value)
    if isinstance(value, Tag):
        return _loops_in(value.value)
    return False


def _walk(value: Any, bound: dict[str, str], names: set[str]) -> Any:
    """value with its loops written out, and the identifiers bound so far substituted."""
    if isinstance(value, Tag):
        name = value.name
        return _function(name, value.value, bound, names, lambda argument: Tag(name, argument))
    if isinstance(value, dict):
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key in ("Ref", "Fn::Sub"):
                name = "Ref" if key == "Ref" else "Sub"
                return _function(name, argument, bound, names, lambda found: {key: found})
        out: dict = {}
        for key, item in value.items():
            if is_loop(key):
                for new_key, new_item in _loop(key, item, bound, names).items():
                    _put(out, new_key, new_item, key)
            else:
                _check_plain(key, bound, "a key below an OutputKey")
                _put(out, key, _walk(item, bound, names), key)
        return out
    if isinstance(value, list):
        return [_walk(item, bound, names) for item in value]
    _check_plain(value, bound, "a plain string (write !Sub)")
    return value


def _function(
    name: str, argument: object, bound: dict[str, str], names: set[str], rebuild: Any
) -> object:
    """An intrinsic function (short or long form; rebuild makes the same form again)."""
    if name == "Sub" and isinstance(argument, str):
        text = _substitute(argument, bound)
        # Inside a loop, a Sub with nothing left to substitute is its string.
        return text if bound and "${" not in text else rebuild(text)
    if name == "Sub" and isinstance(argument, list) and argument and isinstance(argument[0], str):
        return rebuild([_substitute(argument[0], bound), *_walk(argument[1:], bound, names)])
    if name == "Ref" and isinstance(argument, str):
        return bound[argument] if argument in bound else rebuild(argument)
    # Ref of an intrinsic (AWS::LanguageExtensions): Ref of what it resolves to.
    return rebuild(_walk(argument, bound, names))


def _loop(key: str, spec: object, bound: dict[str, str], names: set[str]) -> dict:
    if not (isinstance(spec, list) and len(spec) == 3):
        raise ForEachError(f"{key}: [Identifier, [values...], {{OutputKey: OutputValue}}]")
    identifier, collection, fragment = spec
    if not (isinstance(identifier, str) and re.fullmatch(r"[A-Za-z0-9]+", identifier)):
        raise ForEachError(f"{key}: the identifier must be an alphanumeric string")
    if identifier in bound or identifier in names:
        raise ForEachError(f"{key}: {identifier} is already a loop identifier or a name")
    if not (isinstance(collection, list) and all(isinstance(v, str) for v in collection)):
        raise ForEachError(f"{key}: the collection must be a literal list of strings")
    if len(set(collection)) != len(collection):
        raise ForEachError(f"{key}: the collection repeats a value")
    if not (isinstance(fragment, dict) and fragment):
        raise ForEachError(f"{key}: the fragment must be a mapping of OutputKeys")
    out: dict = {}
    for item in collection:
        inner = {**bound, identifier: item}
        for output_key, output_value in fragment.items():
            if is_loop(output_key):
                copies = _loop(output_key, output_value, inner, names)
            else:
                if not isinstance(output_key, str) or not _names_identifier(output_key, inner):
                    raise ForEachError(f"{key}: OutputKey {output_key!r} names no identifier")
                copies = {_substitute(output_key, inner): _walk(output_value, inner, names)}
            for new_key, new_value in copies.items():
                _put(out, new_key, new_value, key)
    return out


def _put(out: dict, key: str, value: object, where: str) -> None:
    if key in out:
        raise ForEachError(f"{where}: {key} twice")
    out[key] = value


def _names_identifier(text: str, bound: dict[str, str]) -> bool:
    return any(f"${{{name}}}" in text or f"&{{{name}}}" in text for name in bound)


def _substitute(text: str, bound: dict[str, str]) -> str:
    for name, item in bound.items():
        text = text.replace(f"${{{name}}}", item)
        text = text.replace(f"&{{{name}}}", re.sub(r"[^A-Za-z0-9]", "", item))
    return text


def _check_plain(text: object, bound: dict[str, str], where: str) -> None:
    if isinstance(text, str) and _names_identifier(text, bound):
        raise ForEachError(f"loop identifier in {where}: {text!r}")


# ---- writing a template out (for checkov) ------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True  # CloudFormation refuses YAML aliases: an object used twice is written twice


def _represent_tag(dumper: yaml.SafeDumper, tag: Tag) -> yaml.Node:
    name = f"!{tag.name}"
    if isinstance(tag.value, list):
        return dumper.represent_sequence(name, tag.value)
    if isinstance(tag.value, dict):
        return dumper.represent_mapping(name, tag.value)
    return dumper.represent_scalar(name, str(tag.value))


_Dumper.add_representer(Tag, _represent_tag)


def dump(document: dict) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1_000_000)


def main(argv: list[str]) -> int:
    """python -m local.foreach SOURCE DESTINATION: write SOURCE's loops out to DESTINATION."""
    if len(argv) != 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    source, destination = (Path(arg) for arg in argv)
    document = yaml.safe_load(source.read_text())  # local.template taught SafeLoader the tags
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(dump(expand(document)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
