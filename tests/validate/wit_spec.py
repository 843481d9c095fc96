#!/usr/bin/env python3
"""Checks that plugin.spec.yaml describes exactly what the WIT contract (every wit/*.wit file) exports.

The WIT is the source of truth: the files of wit/ (not wit/deps, the imported WASI packages) are read as one
text, so records and enums may live in any interface (model, connection, actions, ...). Record and enum names
must be unique across them. A leading `%` (how WIT escapes a keyword used as a name, e.g. `%from`) is not
part of the name. For every exported action `<name>: func(connection, input: <name>-input)
-> result<<name>-output, plugin-error>` the spec's action `<name>` (snake_case) must have the same inputs and
outputs; the spec's `connection` must be the WIT `connection` record; every WIT record these reach must be a
custom type under `types:` with the same fields. Field by field:
  names          the WIT names in snake_case
  required       true unless the WIT type is option<...>
  types          string -> string, date or password; u8..u64, s8..s64 -> integer; f32, f64 -> float;
                 bool -> boolean; list<T> -> []T; a WIT enum -> string with `enum:` listing its cases in
                 snake_case; a WIT record -> the custom type of the same name, except `login`
                 (username, password) -> the platform's credential_username_password
Tasks and triggers are the functions of the interfaces `tasks` and `triggers`, described under `tasks:` and
`triggers:`: a task's input and output are its `input` and result records; a trigger's output is one event, the
element record of its result's `events` list. The webhook triggers (WEBHOOK_TRIGGERS) are served by the
component's wasi:http incoming handler and have no WIT function.
`test-connection` is the platform's built-in connection test, not a spec action; its output is not described.
`allowed-origins` (interface registry) tells a host which origins a connection may call; it is not a platform
action either.

  wit_spec.py [--plugin DIR]     prints the disagreements; exit 1 when there are any
"""

import argparse
import os
import re
import sys

import yaml

INTEGERS = {"u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"}
FLOATS = {"f32", "f64"}
# WIT records the platform has a base type for: the shapes must be identical.
BASE_TYPES = {"login": "credential_username_password"}
BUILT_IN = {"test-connection", "allowed-origins"}
# Webhook triggers: events the component's incoming handler makes of a service's webhook posts
# (src/serve/webhooks.rs), not WIT functions; their output is the service's own object.
WEBHOOK_TRIGGERS = {"ticket_created", "ticket_updated", "ticket_status_changed"}


def snake(name: str) -> str:
    return name.replace("-", "_")


def wit_files(plugin: str) -> list:
    """The contract's files: wit/*.wit, sorted (wit/deps and other folders are not part of it)."""
    folder = os.path.join(plugin, "wit")
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))
            if name.endswith(".wit") and os.path.isfile(os.path.join(folder, name))]


def read_wit(plugin: str) -> str:
    """Every contract file, concatenated."""
    texts = []
    for path in wit_files(plugin):
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    return "\n".join(texts)


def parse_wit(text: str, duplicates: list = None):
    """(records, enums, funcs). Names defined twice are appended to `duplicates` when given."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"%(?=[A-Za-z])", "", text)  # `%from` is the identifier `from`
    records, enums, funcs = {}, {}, {}
    for kind, name, body in re.findall(r"\b(record|enum)\s+([\w-]+)\s*\{(.*?)\}", text, re.DOTALL):
        if (name in records or name in enums) and duplicates is not None:
            duplicates.append(name)
        if kind == "record":
            fields = {}
            for field in split_top(body):
                fname, ftype = field.split(":", 1)
                fields[fname.strip()] = ftype.strip()
            records[name] = fields
        else:
            enums[name] = [c.strip() for c in body.split(",") if c.strip()]
    # Each function belongs to the interface whose header comes last before it.
    headers = [(m.start(), m.group(1)) for m in re.finditer(r"\binterface\s+([\w-]+)\s*\{", text)]
    for m in re.finditer(r"([\w-]+)\s*:\s*func\s*\((.*?)\)\s*->\s*([^;]+);", text, re.DOTALL):
        name, params, result = m.groups()
        interface = next((n for start, n in reversed(headers) if start < m.start()), "")
        funcs[name] = ({p.split(":")[0].strip(): p.split(":", 1)[1].strip() for p in split_top(params)},
                       result.strip(), interface)
    return records, enums, funcs


def split_top(body: str) -> list:
    """Splits on commas outside <...>."""
    parts, depth, current = [], 0, ""
    for ch in body:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


class Checker:
    def __init__(self, records, enums, spec):
        self.records, self.enums, self.spec = records, enums, spec
        self.types = spec.get("types") or {}
        self.problems, self.reached = [], set()

    def expect(self, wit_type: str, prop: dict, where: str):
        """Compares one WIT field type with one spec property (type, enum, required handled by the caller)."""
        spec_type = prop.get("type")
        if wit_type.startswith("list<"):
            inner = wit_type[5:-1]
            if not str(spec_type).startswith("[]"):
                self.problems.append(f"{where}: WIT list<{inner}>, spec type {spec_type} (expected []...)")
                return
            self.expect(inner, dict(prop, type=spec_type[2:]), where + "[]")
        elif wit_type == "string":
            if spec_type not in ("string", "date", "password"):
                self.problems.append(f"{where}: WIT string, spec type {spec_type}")
        elif wit_type in INTEGERS:
            if spec_type != "integer":
                self.problems.append(f"{where}: WIT {wit_type}, spec type {spec_type} (expected integer)")
        elif wit_type in FLOATS:
            if spec_type not in ("float", "number"):
                self.problems.append(f"{where}: WIT {wit_type}, spec type {spec_type} (expected float)")
        elif wit_type == "bool":
            if spec_type != "boolean":
                self.problems.append(f"{where}: WIT bool, spec type {spec_type} (expected boolean)")
        elif wit_type in self.enums:
            cases = [snake(c) for c in self.enums[wit_type]]
            if spec_type != "string" or prop.get("enum") != cases:
                self.problems.append(f"{where}: WIT enum {wit_type} {cases}, spec type {spec_type} "
                                     f"enum {prop.get('enum')}")
        elif wit_type in BASE_TYPES:
            if spec_type != BASE_TYPES[wit_type]:
                self.problems.append(f"{where}: WIT {wit_type}, spec type {spec_type} "
                                     f"(expected {BASE_TYPES[wit_type]})")
        elif wit_type in self.records:
            if spec_type != snake(wit_type):
                self.problems.append(f"{where}: WIT record {wit_type}, spec type {spec_type} "
                                     f"(expected {snake(wit_type)})")
            elif spec_type not in self.types:
                self.problems.append(f"{where}: custom type {spec_type} is missing under types:")
            elif spec_type not in self.reached:
                self.reached.add(spec_type)
                self.fields(self.records[wit_type], self.types[spec_type], f"types.{spec_type}")
        else:
            self.problems.append(f"{where}: WIT type {wit_type} has no spec equivalent")
        if wit_type not in self.enums and prop.get("enum") and not wit_type.startswith("list<"):
            self.problems.append(f"{where}: spec has an enum, the WIT type {wit_type} is not an enum")

    def fields(self, wit_fields: dict, spec_fields: dict, where: str):
        spec_fields = spec_fields or {}
        wanted = {snake(k): v for k, v in wit_fields.items()}
        for name in spec_fields:
            if name not in wanted:
                self.problems.append(f"{where}.{name}: in the spec, not in the WIT")
        for name, wit_type in wanted.items():
            if name not in spec_fields:
                self.problems.append(f"{where}.{name}: in the WIT, not in the spec")
                continue
            prop = spec_fields[name]
            optional = wit_type.startswith("option<")
            inner = wit_type[7:-1] if optional else wit_type
            if prop.get("required") is not (not optional):
                self.problems.append(f"{where}.{name}: required should be {not optional} "
                                     f"(WIT {wit_type}), spec says {prop.get('required')}")
            self.expect(inner, prop, f"{where}.{name}")


def check(plugin: str) -> list:
    if not wit_files(plugin):
        return [f"no WIT contract: {os.path.join(plugin, 'wit')} has no .wit file"]
    duplicates = []
    records, enums, funcs = parse_wit(read_wit(plugin), duplicates)
    with open(os.path.join(plugin, "plugin.spec.yaml"), encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    checker = Checker(records, enums, spec)
    for name in duplicates:
        checker.problems.append(f"WIT: {name} is defined more than once (record and enum names must be unique)")
    for name, base in BASE_TYPES.items():
        if name in records and set(records[name]) != {"username", "password"}:
            checker.problems.append(f"WIT record {name} no longer has the shape of {base}")

    checker.fields(records["connection"], spec.get("connection"), "connection")
    # Actions, tasks and triggers: the functions of the interface of the same name. A trigger's
    # output is one event: the element of its poll's `events` list.
    for section, interface in (("actions", "actions"), ("tasks", "tasks"), ("triggers", "triggers")):
        described = spec.get(section) or {}
        exported = {snake(n): (p, r) for n, (p, r, i) in funcs.items() if i == interface and n not in BUILT_IN}
        for name in described:
            if name not in exported and not (section == "triggers" and name in WEBHOOK_TRIGGERS):
                checker.problems.append(f"{section}.{name}: in the spec, not exported by the WIT {interface}")
        for name, (params, result) in exported.items():
            if name not in described:
                checker.problems.append(f"{section}.{name}: exported by the WIT {interface}, not in the spec")
                continue
            output = re.match(r"result<\s*([\w-]+)\s*,", result).group(1)
            if section == "triggers":
                output = records[output]["events"][5:-1]
            checker.fields(records[params["input"]], described[name].get("input"), f"{section}.{name}.input")
            checker.fields(records[output], described[name].get("output"), f"{section}.{name}.output")

    for name in checker.types:
        if name not in checker.reached:
            checker.problems.append(f"types.{name}: no WIT record that an action or the connection uses")
    return checker.problems


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", default=os.path.normpath(os.path.join(here, "..", "..")))
    problems = check(parser.parse_args().plugin)
    for problem in problems:
        print(problem)
    print("plugin.spec.yaml agrees with wit/*.wit" if not problems else f"{len(problems)} disagreements")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
