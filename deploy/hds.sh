#!/usr/bin/env bash
# The Helsinki Design System's own CSS for visitdesk's pages: hds-core from npm (pinned by deploy/hds/package-lock.json),
# only the components the pages use, bundled into services/visits/static/hds/hds.min.css with HDS's MIT licence
# beside it. The bundle is committed, so `make dev` and the image need no npm; this script makes it again.
#
# Usage: deploy/hds.sh          install hds-core from the lock and write the bundle
#        deploy/hds.sh --check  exit 1 if the committed bundle differs from what the pinned package gives
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGE=$ROOT/deploy/hds
OUT=$ROOT/services/visits/static/hds
# The components the pages use, in HDS's own names (hds-core/lib/components/<name>/<name>.min.css).
COMPONENTS=(button checkbox error-summary fieldset link notification radio-button selection-group status-label table tag text-input)

log() { echo "hds.sh: $*" >&2; }

[[ -d $PACKAGE/node_modules/hds-core ]] || npm ci --prefix "$PACKAGE" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
LIB=$PACKAGE/node_modules/hds-core/lib
VERSION=$(node -p "require('$PACKAGE/node_modules/hds-core/package.json').version")

bundle() {
    echo "/* hds-core $VERSION (MIT, City of Helsinki; see LICENSE beside this file): base + ${COMPONENTS[*]}. Made by deploy/hds.sh. */"
    # HDS's fonts.css loads the Helsinki Grotesk font from the city's CDN; the pages fall back to Arial instead.
    sed -e '/sourceMappingURL/d' "$LIB/base.min.css"
    echo
    for component in "${COMPONENTS[@]}"; do
        sed -e '/sourceMappingURL/d' "$LIB/components/$component/$component.min.css"
        echo
    done
}

if [[ ${1:-} == --check ]]; then
    diff -q <(bundle) "$OUT/hds.min.css" >/dev/null && diff -q "$PACKAGE/node_modules/hds-core/LICENSE" "$OUT/LICENSE" >/dev/null ||
        { log "services/visits/static/hds differs from hds-core $VERSION: run deploy/hds.sh"; exit 1; }
    exit 0
fi
mkdir -p "$OUT"
bundle >"$OUT/hds.min.css"
cp "$PACKAGE/node_modules/hds-core/LICENSE" "$OUT/LICENSE"
log "wrote $OUT/hds.min.css ($(wc -c <"$OUT/hds.min.css") bytes) from hds-core $VERSION"
