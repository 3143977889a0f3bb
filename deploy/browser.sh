#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives it through
# executable_path; Playwright's own browser download is never used).
#
# Usage: deploy/browser.sh    prints the browser's path; installs it first if it is missing.
# Idempotent: a second run does nothing but print the path.
#
# Environment:
#   VISITDESK_CHROMIUM   the browser to use (default /usr/bin/chromium)
set -euo pipefail

CHROMIUM=${VISITDESK_CHROMIUM:-/usr/bin/chromium}

if [[ ! -x $CHROMIUM ]]; then
  if [[ $CHROMIUM != /usr/bin/chromium ]]; then
    echo "deploy/browser.sh: $CHROMIUM is not an executable" >&2
    exit 1
  fi
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  # Fonts so that screenshots show text in the page's own font sizes and not boxes.
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-liberation >&2
fi

"$CHROMIUM" --version >&2
echo "$CHROMIUM"
