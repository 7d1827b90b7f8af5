#!/usr/bin/env bash
# Build the docs site with warnings as errors; executed examples must not fail.
set -euo pipefail
cd "$(dirname "$0")/.."
site=${1:-site}
NO_MKDOCS_2_WARNING=1 mkdocs build --strict -q -d "$site"
if grep -rl "Traceback (most recent call last)" "$site" --include=*.html; then
  echo "docs: an executed example raised (pages above)" >&2
  exit 1
fi
echo "docs built in $site"
