#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Installs this folder's node_modules (@aws-sdk/client-lambda, pinned by package-lock.json)
# with `npm ci`. Idempotent and safe to run from parallel tests: it holds a lock on
# package.json, and does nothing when node_modules is already complete for the current
# lockfile (a stamp file newer than package.json and package-lock.json).
# Exit status: 0 ready, 77 when node or npm is missing (callers skip), else npm's failure.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
if [ -z "${LEMU_JS_SETUP_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
        LEMU_JS_SETUP_LOCKED=1 exec flock "$dir/package.json" "$dir/setup.sh" "$@"
fi
cd "$dir"

stamp=node_modules/.lemu-setup-done
sdk=node_modules/@aws-sdk/client-lambda/package.json
if [ -f "$stamp" ] && [ -f "$sdk" ] &&
        [ -z "$(find package.json package-lock.json -newer "$stamp")" ]; then
        exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "js/setup.sh: node or npm not found" >&2
        exit 77
fi

npm ci --no-audit --no-fund --loglevel=error
if [ ! -f "$sdk" ]; then
        echo "js/setup.sh: npm ci did not install $sdk" >&2
        exit 1
fi
touch "$stamp"
