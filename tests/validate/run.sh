#!/usr/bin/env bash
# `make validate`: the InsightConnect ecosystem's own validators on psa-bridge (details: tests/validate/validate.py).
#
#   tests/validate/run.sh                    run the 23 validators of the contract; real outputs come from
#                                            .output/action_<name>.json (each action's `output` object) when present
#   tests/validate/run.sh --require-outputs  ... and fail when an action has no real output (after an end-to-end run)
#   tests/validate/run.sh --example-outputs  ... and check help.md's example outputs where no real output exists
#   tests/validate/run.sh --self-test        break spec, help and outputs on purpose in temp copies: each must fail
#   tests/validate/run.sh --refresh-help [--outputs DIR]
#                                            regenerate help.md's tables from plugin.spec.yaml, keep its prose
#                                            (and take the example outputs from DIR/action_<name>.json)
#   tests/validate/run.sh --check-help       fail when help.md is not what --refresh-help would write
#
# The validator and its pinned dependencies go into .venv at the repository root (created when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
stamp="$venv/.psa-validate-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing the InsightConnect validator into $venv ..." >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q --no-deps -r "$here/requirements.txt"
  touch "$stamp"
fi
case "${1:-}" in
  --refresh-help) shift; exec "$venv/bin/python" "$here/help_md.py" --plugin "$root" "$@" ;;
  --check-help) shift; exec "$venv/bin/python" "$here/help_md.py" --plugin "$root" --check "$@" ;;
  *) exec "$venv/bin/python" "$here/validate.py" --plugin "$root" "$@" ;;
esac
