#!/bin/sh
# The build step of a release (the Dockerfile runs it; so does tests/deploy/test_image_commands.py): compile the
# translations (.mo, GNU gettext's msgfmt) and collect the static files into STATIC_ROOT (default var/staticfiles)
# with whitenoise's manifest storage, as production (DJANGO_DEBUG=false) serves them. Needs no database.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" manage.py compilemessages --ignore=.venv --ignore=var --ignore=node_modules
DJANGO_DEBUG=false "$PYTHON" manage.py collectstatic --noinput
