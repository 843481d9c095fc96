#!/usr/bin/env python3
"""Regenerates help.md from plugin.spec.yaml with the ecosystem's own generator (insight-plugin),
keeping what people wrote by hand.

help.md = what `insight-plugin create` generates from the spec (every table, the example inputs)
        + hand-written prose blocks, each between `<!-- prose:NAME -->` and `<!-- /prose:NAME -->`
        + one example output per action (kept from the current help.md, or taken from real outputs).

Prose blocks are put back where their name says:
  description      after the plugin description, before `# Key Features`
  setup            right after `## Setup`, before the connection table
  action:<name>    after the action's description, before its `##### Input`
  trigger:<name>, task:<name>   the same for a trigger or a task
  troubleshooting  after the generated troubleshooting list, before `# Version History`

Usage: help_md.py [--plugin DIR] [--outputs DIR] [--check]
  --outputs DIR  take each action's example output from DIR/action_<name>.json (written by an end-to-end run)
  --check        do not write; exit 1 if help.md is not what the spec and the prose make it
"""

import argparse
import json
import os
import re
import sys
import tempfile

import yaml

# Prose block kinds placed in a generated section: kind -> (spec section, help.md part).
PARTS = {"action": ("actions", "Actions"), "trigger": ("triggers", "Triggers"), "task": ("tasks", "Tasks")}
PROSE = re.compile(r"<!-- prose:(\S+) -->\n.*?<!-- /prose:\1 -->\n", re.DOTALL)


def generate(spec: dict) -> str:
    """help.md exactly as `insight-plugin create` writes it for this spec."""
    import logging

    from insight_plugin.features.create.plugin_to_helpmd import ConvertPluginToHelp

    logging.disable(logging.WARNING)  # it warns that a Python SDK version is missing: there is no Python here

    with tempfile.TemporaryDirectory() as out:
        ConvertPluginToHelp.new_for_markdown(spec, out).convert_function()
        with open(os.path.join(out, "help.md"), encoding="utf-8") as f:
            return f.read()


def action_section(text: str, title: str, part: str = "Actions") -> tuple:
    """(start, end) of the `#### <title>` section inside `### <part>` (Actions, Triggers, Tasks)."""
    actions = text.index(f"\n### {part}\n")
    start = text.index(f"\n#### {title}\n", actions) + 1
    ends = [i for i in (text.find("\n#### ", start), text.find("\n### ", start)) if i != -1]
    return start, (min(ends) + 1) if ends else len(text)


def example_output(section: str):
    return re.search(r"Example output:\n\n(```\n.*?\n```)\n", section, re.DOTALL)


def insert_before(text: str, anchor: str, block: str, start: int = 0) -> str:
    i = text.index(anchor, start)
    return text[:i] + block + text[i:]


def build(spec: dict, current: str, outputs_dir: str = None) -> str:
    text = generate(spec)
    blocks = {m.group(1): m.group(0) for m in PROSE.finditer(current)}
    actions = spec.get("actions") or {}

    # Example outputs: real ones when asked, else the ones help.md already has.
    for name, action in actions.items():
        title = action["title"]
        start, end = action_section(text, title)
        generated = example_output(text[start:end])
        if not generated:
            continue
        replacement = None
        path = os.path.join(outputs_dir, f"action_{name}.json") if outputs_dir else None
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                replacement = "```\n" + json.dumps(json.load(f), indent=2) + "\n```"
        elif f"\n#### {title}\n" in current and "\n### Actions\n" in current:
            old = example_output(current[slice(*action_section(current, title))])
            if old:
                replacement = old.group(1)
        if replacement:
            a, b = start + generated.start(1), start + generated.end(1)
            text = text[:a] + replacement + text[b:]

    # Prose blocks.
    for name, block in blocks.items():
        if name == "description":
            text = insert_before(text, "# Key Features\n", block + "\n")
        elif name == "setup":
            i = text.index("\n## Setup\n") + len("\n## Setup\n")
            text = text[:i] + "\n" + block + text[i:]
        elif name == "troubleshooting":
            text = insert_before(text, "# Version History\n", block + "\n")
        elif name.split(":")[0] in PARTS:
            kind, _, key = name.partition(":")
            section, part = PARTS[kind]
            action = (spec.get(section) or {}).get(key)
            if not action:
                sys.exit(f"help.md has a prose block for a {kind} the spec lacks: {name}")
            start, end = action_section(text, action["title"], part)
            anchor = "##### Input" if "##### Input" in text[start:end] else "##### Output"
            text = insert_before(text, anchor, block + "\n", start)
        else:
            sys.exit(f"help.md has a prose block with an unknown name: {name}")
    return text


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", default=os.path.normpath(os.path.join(here, "..", "..")))
    parser.add_argument("--outputs", help="directory with action_<name>.json outputs to use as examples")
    parser.add_argument("--check", action="store_true", help="only check that help.md is up to date")
    args = parser.parse_args()

    with open(os.path.join(args.plugin, "plugin.spec.yaml"), encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    help_path = os.path.join(args.plugin, "help.md")
    current = open(help_path, encoding="utf-8").read() if os.path.exists(help_path) else ""
    text = build(spec, current, args.outputs)
    if args.check:
        if text != current:
            print("help.md is out of date: run tests/validate/run.sh --refresh-help")
            return 1
        print("help.md is up to date with plugin.spec.yaml")
        return 0
    with open(help_path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {help_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
