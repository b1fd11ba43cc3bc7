#!/bin/sh
# The release step, run once per deploy before any process of the new version starts (compose.yaml's one-shot
# `migrate` service, the Procfile's `release`): refuse an unsafe production configuration (check --deploy: the
# development secret key, Stripe half configured, …), then apply the migrations. Non-zero exit = do not start.
# Migrations must be backwards compatible with the version still running (docs/deployment.md "Upgrading").
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" manage.py check --deploy
"$PYTHON" manage.py migrate --noinput
