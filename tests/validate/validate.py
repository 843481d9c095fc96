#!/usr/bin/env python3
"""Runs the InsightConnect ecosystem's own validators (PyPI insightconnect-integrations-validators) on psa-bridge.

Exactly the 23 validators that ../shared/contracts/insightconnect.md lists for a plugin that is not a Python
container, one by one, each printing a PASS or FAIL line; the exit status is 1 when any fails.

The validators expect the layout of a Python plugin, so they run on a staging copy that has what they read:
  plugin.spec.yaml, help.md          as they are
  tests/*.json                       the sample action_start messages (JSONValidator opens every *.json under
                                     tests/ as tests/<file name>, so files in sub-folders such as
                                     tests/simulators/ would make it crash; it checks only the top level anyway)
  .output/action_<name>.json         each action's real `output` object, written by an end-to-end run
                                     (OutputValidator skips actions that have none: see --require-outputs)
  icon_psa_bridge/actions/<name>/schema.py
                                     the action's input and output JSON schemas, built from plugin.spec.yaml by
                                     insight-plugin's own schema builder, as `insight-plugin create` would write
                                     them; OutputValidator reads the output schema from there.
Nothing in the validators is changed or skipped.

Besides the validators, two psa-bridge checks (reported on their own lines):
  SampleMessages  every tests/*.json message, read strictly against the spec: known action (or test_connection),
                  no unknown keys at any depth, required keys present, types and enums right;
  WitSpec         plugin.spec.yaml describes exactly what the WIT contract (wit/*.wit) exports
                  (tests/validate/wit_spec.py).

  validate.py [--plugin DIR] [--outputs DIR] [--require-outputs] [--example-outputs]
  validate.py --self-test      break the spec, help and outputs on purpose in temp copies; each break must be caught
"""

import argparse
import contextlib
import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # importing wit_spec must leave no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wit_spec  # noqa: E402

# The contract's list, in its order.
VALIDATORS = [
    "HelpValidator",
    "ChangelogValidator",
    "RequiredKeysValidator",
    "UseCaseValidator",
    "SpecPropertiesValidator",
    "SpecVersionValidator",
    "TagValidator",
    "DescriptionValidator",
    "TitleValidator",
    "VendorValidator",
    "DefaultValueValidator",
    "RequiredValidator",
    "ProfanityValidator",
    "AcronymValidator",
    "JSONValidator",
    "OutputValidator",
    "HelpInputOutputValidator",
    "SupportValidator",
    "EncodingValidator",
    "ExampleInputValidator",
    "EnableCacheValidator",
    "HelpExampleValidator",
    "NameValidator",
]

HERE = os.path.dirname(os.path.abspath(__file__))


def load_spec(directory: str) -> dict:
    with open(os.path.join(directory, "plugin.spec.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def help_example_outputs(help_text: str, spec: dict) -> dict:
    """{action name: the example output of help.md}, for actions that have one."""
    found = {}
    actions_at = help_text.find("\n### Actions\n")
    for name, action in (spec.get("actions") or {}).items():
        start = help_text.find(f"\n#### {action['title']}\n", actions_at)
        if actions_at == -1 or start == -1:
            continue
        nexts = [i for i in (help_text.find("\n#### ", start + 1), help_text.find("\n### ", start + 1)) if i != -1]
        section = help_text[start : min(nexts) + 1 if nexts else len(help_text)]
        match = re.search(r"Example output:\n\n```\n(.*?)\n```\n", section, re.DOTALL)
        if match:
            found[name] = json.loads(match.group(1))
    return found


def stage(plugin: str, outputs: str, staging: str, example_outputs: bool) -> dict:
    """Builds the staging copy; answers {action: where its output came from}."""
    from insight_plugin.features.common.schema_util import SchemaUtil

    for name in ("plugin.spec.yaml", "help.md"):
        if os.path.exists(os.path.join(plugin, name)):
            shutil.copy(os.path.join(plugin, name), os.path.join(staging, name))
    os.makedirs(os.path.join(staging, "tests"))
    tests = os.path.join(plugin, "tests")
    for name in sorted(os.listdir(tests)) if os.path.isdir(tests) else []:
        if name.endswith(".json") and os.path.isfile(os.path.join(tests, name)):
            shutil.copy(os.path.join(tests, name), os.path.join(staging, "tests", name))

    spec = load_spec(staging)
    actions = spec.get("actions") or {}
    os.makedirs(os.path.join(staging, ".output"))
    sources = {}
    if example_outputs:
        with open(os.path.join(staging, "help.md"), encoding="utf-8") as f:
            for name, output in help_example_outputs(f.read(), spec).items():
                with open(os.path.join(staging, ".output", f"action_{name}.json"), "w", encoding="utf-8") as out:
                    json.dump(output, out, indent=2)
                sources[name] = "help.md example output"
    for name in actions:
        path = os.path.join(outputs, f"action_{name}.json")
        if os.path.exists(path):
            shutil.copy(path, os.path.join(staging, ".output", f"action_{name}.json"))
            sources[name] = os.path.relpath(path, plugin)

    for name, action in actions.items():
        folder = os.path.join(staging, f"icon_{spec['name']}", "actions", name)
        os.makedirs(folder)
        schemas = [SchemaUtil.generate_json_schema(action.get(part) or {}, spec) for part in ("input", "output")]
        with open(os.path.join(folder, "schema.py"), "w", encoding="utf-8") as f:
            f.write("# Built from plugin.spec.yaml by insight-plugin's SchemaUtil (input, then output).\n")
            for schema in schemas:
                f.write('schema = r"""\n' + json.dumps(schema, indent=2) + '\n"""\n')
    return sources


def run_validators(staging: str) -> list:
    from icon_plugin_spec.plugin_spec import KomandPluginSpec
    from icon_validator.exceptions import ValidationException
    import icon_validator.rules as rules

    results = []
    spec = KomandPluginSpec(staging, "plugin.spec.yaml")  # one for all, as icon-validate does
    for name in VALIDATORS:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                getattr(rules, name)().validate(spec)
            results.append((name, True, "", printed.getvalue()))
        except ValidationException as e:
            results.append((name, False, str(e), printed.getvalue()))
        except Exception as e:  # a validator that crashes on our input is a failure too
            results.append((name, False, f"crashed: {type(e).__name__}: {e}", printed.getvalue()))
    return results


# ---- psa-bridge's own check of tests/*.json --------------------------------------------------------------------

PRIMITIVES = {
    "string": str, "date": str, "bytes": str, "password": str,
    "integer": int, "float": (int, float), "number": (int, float), "boolean": bool, "object": dict,
}
BASE_TYPES = {"credential_username_password": {"username": {"type": "string", "required": True},
                                               "password": {"type": "password", "required": True}}}


def check_value(value, prop: dict, types: dict, path: str, problems: list):
    kind = prop["type"]
    if kind.startswith("[]"):
        if not isinstance(value, list):
            problems.append(f"{path} must be an array")
            return
        for i, item in enumerate(value):
            check_value(item, dict(prop, type=kind[2:], enum=None), types, f"{path}[{i}]", problems)
        return
    if kind in PRIMITIVES:
        wanted = PRIMITIVES[kind]
        if isinstance(value, bool) and kind != "boolean" or not isinstance(value, wanted):
            problems.append(f"{path} must be {kind}, not {json.dumps(value)}")
        elif prop.get("enum") and value not in prop["enum"]:
            problems.append(f"{path} must be one of {prop['enum']}, not {json.dumps(value)}")
        return
    fields = types.get(kind) or BASE_TYPES.get(kind)
    if fields is None:
        problems.append(f"{path} has a type the spec does not define: {kind}")
    elif not isinstance(value, dict):
        problems.append(f"{path} must be an object ({kind})")
    else:
        check_object(value, fields, types, path, problems)


def check_object(value: dict, fields: dict, types: dict, path: str, problems: list):
    for key in value:
        if key not in fields:
            problems.append(f"{path}.{key} is not in the spec")
    for key, prop in fields.items():
        if key in value and value[key] is not None:
            check_value(value[key], prop, types, f"{path}.{key}", problems)
        elif prop.get("required"):
            problems.append(f"{path}.{key} is required")


def check_samples(plugin: str, spec: dict) -> list:
    problems = []
    types = spec.get("types") or {}
    tests = os.path.join(plugin, "tests")
    for name in sorted(os.listdir(tests)) if os.path.isdir(tests) else []:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(tests, name), encoding="utf-8") as f:
                message = json.load(f)
            body = message["body"]
            assert message.get("version") == "v1" and message.get("type") == "action_start"
        except Exception:
            problems.append(f"tests/{name}: not an action_start message")
            continue
        action = body.get("action")
        if action == "test_connection":
            inputs = {}
        elif action in (spec.get("actions") or {}):
            inputs = spec["actions"][action].get("input") or {}
        else:
            problems.append(f"tests/{name}: unknown action {action!r}")
            continue
        check_object(body.get("input") or {}, inputs, types, f"tests/{name}: input", problems)
        check_object(body.get("connection") or {}, spec.get("connection") or {}, types,
                     f"tests/{name}: connection", problems)
    return problems


# ---- one validation run ----------------------------------------------------------------------------------------

def indent(text: str) -> str:
    return "\n".join("      " + line for line in text.strip().splitlines())


def validate(args) -> int:
    plugin = os.path.abspath(args.plugin)
    outputs = os.path.abspath(args.outputs or os.path.join(plugin, ".output"))
    with tempfile.TemporaryDirectory(prefix="psa-validate-") as staging:
        sources = stage(plugin, outputs, staging, args.example_outputs)
        results = run_validators(staging)
    spec = load_spec(plugin)
    actions = list(spec.get("actions") or {})
    missing = [a for a in actions if a not in sources]

    failed = 0
    for name, ok, message, printed in results:
        note = ""
        if name == "OutputValidator":
            checked = ", ".join(f"{a} ({sources[a]})" for a in actions if a in sources) or "none"
            note = f"  outputs checked: {checked}"
            if missing:
                note += f"; no output for: {', '.join(missing)}"
            if missing and args.require_outputs:
                ok, message = False, "--require-outputs: an end-to-end run must write .output/action_<name>.json"
        print(f"{'PASS' if ok else 'FAIL'}  {name}{note}")
        if not ok:
            failed += 1
            print(indent(message))
            if printed.strip():
                print(indent(printed))
    print(f"validators: {len(results) - failed} passed, {failed} failed")

    # psa-bridge's own checks, beside the ecosystem's validators.
    checks = [("SampleMessages", "tests/*.json are valid action_start messages for the spec", check_samples(plugin, spec))]
    if wit_spec.wit_files(plugin):
        checks.append(("WitSpec", "plugin.spec.yaml describes what wit/*.wit exports", wit_spec.check(plugin)))
    for name, what, problems in checks:
        print(f"{'PASS' if not problems else 'FAIL'}  {name}  {what} (psa-bridge check)")
        for problem in problems:
            print("      " + problem)
    bad = sum(1 for _, _, problems in checks if problems)
    print(f"psa-bridge checks: {len(checks) - bad} passed, {bad} failed")
    return 1 if failed or bad else 0


# ---- self-test: every break must be caught ---------------------------------------------------------------------

def breaks():
    """(what, expected failing validator, change to (spec, help, outputs, tests dir))."""

    def spec_edit(fn):
        return lambda spec, help_text, outputs, tests: (fn(spec), help_text)[1]

    def action(spec, name):
        return spec["actions"][name]

    def set_(path, value):
        def fn(spec):
            node = spec
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        return fn

    def delete(path):
        def fn(spec):
            node = spec
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
        return fn

    def edit_output(name, fn):
        def change(spec, help_text, outputs, tests):
            fn(outputs[name])
            return help_text
        return change

    def edit_help(fn):
        return lambda spec, help_text, outputs, tests: fn(help_text)

    def add_test_file(spec, help_text, outputs, tests):
        with open(os.path.join(tests, "broken.json"), "w") as f:
            f.write('{"version": "v1", "type": "action_start",')
        return help_text

    def edit_sample(spec, help_text, outputs, tests):
        path = os.path.join(tests, "get_accounts.json")
        with open(path) as f:
            message = json.load(f)
        message["body"]["input"]["page_size"] = 50
        with open(path, "w") as f:
            json.dump(message, f)
        return help_text

    return [
        ("an action description ends with a period", "DescriptionValidator",
         spec_edit(lambda s: action(s, "get_accounts").update(description=action(s, "get_accounts")["description"] + "."))),
        ("an input has no example", "ExampleInputValidator",
         spec_edit(delete(["actions", "post_tickets", "input", "board", "example"]))),
        ("an input type changes in the spec but not in help.md", "HelpInputOutputValidator",
         spec_edit(set_(["actions", "get_tickets", "input", "max_tickets", "type"], "string"))),
        ("an input has a property the spec format lacks", "SpecPropertiesValidator",
         spec_edit(set_(["actions", "get_tickets", "input", "since", "format"], "date-time"))),
        ("an output has no required flag", "RequiredValidator",
         spec_edit(delete(["actions", "get_accounts", "output", "count", "required"]))),
        ("a lower-case acronym in a description", "AcronymValidator",
         spec_edit(set_(["types", "armor_connection", "base_url", "description"], "Base url of the ARMOR API"))),
        ("a lower-case word in a title", "TitleValidator",
         spec_edit(set_(["actions", "get_accounts", "input", "include_addresses", "title"], "Include addresses"))),
        ("an unknown use case", "UseCaseValidator", spec_edit(set_(["hub_tags", "use_cases"], ["ticket_sync"]))),
        ("the version is not in the version history", "ChangelogValidator", spec_edit(set_(["version"], "1.0.1"))),
        ("a non-ASCII character in the spec", "EncodingValidator",
         spec_edit(set_(["actions", "get_accounts", "title"], "Get Accounts \u2013 All"))),
        ("an upper-case plugin name", "NameValidator", spec_edit(set_(["name"], "PSA_bridge"))),
        ("a capitalised vendor", "VendorValidator", spec_edit(set_(["vendor"], "Psabridge"))),
        ("a trigger without enable_cache", "EnableCacheValidator",
         spec_edit(lambda s: s.update(enable_cache=False, triggers={"new_ticket": {"title": "New Ticket", "description": "A new ticket"}}))),
        ("an output count is a string", "OutputValidator",
         edit_output("get_accounts", lambda o: o.update(count="three"))),
        ("an output enum value the spec does not list", "OutputValidator",
         edit_output("match_companies", lambda o: o["matched"][0].update(method="guess"))),
        ("an output item lacks a required field", "OutputValidator",
         edit_output("post_tickets", lambda o: o["results"][0].pop("key"))),
        ("help.md lacks a required heading", "HelpValidator",
         edit_help(lambda h: h.replace("\n## Troubleshooting\n", "\n## Known Problems\n"))),
        ("an example output is not indented by 2 spaces", "HelpExampleValidator",
         edit_help(lambda h: h.replace('\n  "count": 3\n}', '\n    "count": 3\n}'))),
        ("a sample message is not JSON", "JSONValidator", add_test_file),
        ("a sample message has an input the spec lacks", "SampleMessages", edit_sample),
        ("a custom type lacks a field of its WIT record", "WitSpec", spec_edit(delete(["types", "ticket", "priority"]))),
        ("an enum lacks a case of its WIT enum", "WitSpec",
         spec_edit(lambda s: s["types"]["post_result"]["outcome"]["enum"].remove("skipped"))),
        ("an action lacks an input of wit/actions.wit", "WitSpec",
         spec_edit(delete(["actions", "post_tickets", "input", "catch_all_company"]))),
        ("a field escaped in the WIT (%from) is renamed in the spec", "WitSpec",
         spec_edit(lambda s: s["types"]["value_mapping"].update({"source_value": s["types"]["value_mapping"].pop("from")}))),
        ("the WIT-only registry function allowed-origins is described as an action", "WitSpec",
         spec_edit(set_(["actions", "allowed_origins"], {"title": "Allowed Origins", "description": "Origins the connection may call",
                                                         "input": {}, "output": {}}))),
        ("a banned word in help.md", "ProfanityValidator",
         edit_help(lambda h: h.replace("\n# Links\n", "\n# Links\n\ncrap\n"))),
    ]


def self_test(args) -> int:
    plugin = os.path.abspath(args.plugin)
    spec = load_spec(plugin)
    with open(os.path.join(plugin, "help.md"), encoding="utf-8") as f:
        help_text = f.read()
    base_outputs = help_example_outputs(help_text, spec)

    def run_copy(label, change=None, expected=None) -> bool:
        with tempfile.TemporaryDirectory(prefix="psa-selftest-") as copy_dir:
            os.makedirs(os.path.join(copy_dir, "tests"))
            wit = wit_spec.wit_files(plugin)
            if wit:
                os.makedirs(os.path.join(copy_dir, "wit"))
                for path in wit:
                    shutil.copy(path, os.path.join(copy_dir, "wit", os.path.basename(path)))
            for name in os.listdir(os.path.join(plugin, "tests")):
                if name.endswith(".json"):
                    shutil.copy(os.path.join(plugin, "tests", name), os.path.join(copy_dir, "tests", name))
            spec_copy, outputs = copy.deepcopy(spec), copy.deepcopy(base_outputs)
            text = change(spec_copy, help_text, outputs, os.path.join(copy_dir, "tests")) if change else help_text
            with open(os.path.join(copy_dir, "plugin.spec.yaml"), "w", encoding="utf-8") as f:
                if spec_copy == spec:
                    f.write(open(os.path.join(plugin, "plugin.spec.yaml"), encoding="utf-8").read())
                else:
                    yaml.safe_dump(spec_copy, f, sort_keys=False, width=100000, allow_unicode=True)
            with open(os.path.join(copy_dir, "help.md"), "w", encoding="utf-8") as f:
                f.write(text)
            os.makedirs(os.path.join(copy_dir, ".output"))
            for name, output in outputs.items():
                with open(os.path.join(copy_dir, ".output", f"action_{name}.json"), "w") as f:
                    json.dump(output, f, indent=2)
            run = subprocess.run([sys.executable, os.path.abspath(__file__), "--plugin", copy_dir],
                                 capture_output=True, text=True)
        failing = re.findall(r"^FAIL  (\w+)", run.stdout, re.MULTILINE)
        if expected is None:
            ok = run.returncode == 0
            detail = "all validators pass" if ok else "failing: " + ", ".join(failing)
        else:
            ok = run.returncode != 0 and expected in failing
            detail = "caught by " + ", ".join(failing) if failing else "not caught"
        print(f"{'PASS' if ok else 'FAIL'}  {label}: {detail}")
        if not ok:
            print(indent(run.stdout + run.stderr))
        return ok

    results = [run_copy("unbroken copy with help.md example outputs")]
    for what, expected, change in breaks():
        results.append(run_copy(f"break: {what} (expect {expected})", change, expected))
    failed = results.count(False)
    print(f"self-test: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", default=os.path.normpath(os.path.join(HERE, "..", "..")), help="plugin directory")
    parser.add_argument("--outputs", help="directory with action_<name>.json (default: <plugin>/.output)")
    parser.add_argument("--require-outputs", action="store_true",
                        help="fail when an action has no real output to check")
    parser.add_argument("--example-outputs", action="store_true",
                        help="check help.md's example outputs where no real output exists")
    parser.add_argument("--self-test", action="store_true", help="check that broken copies fail")
    args = parser.parse_args()
    return self_test(args) if args.self_test else validate(args)


if __name__ == "__main__":
    sys.exit(main())
