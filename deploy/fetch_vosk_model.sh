#!/bin/sh
# Fetch the English vosk model (vosk-model-small-en-us-0.15, Apache-2.0) on a machine with a network,
# check its pinned sha256 and unpack it where car-assistant looks for it (or into DEST).
#
#   deploy/fetch_vosk_model.sh [DEST_DIR]
#
# DEST_DIR defaults to ${XDG_DATA_HOME:-~/.local/share}/car-assistant; the model lands in
# DEST_DIR/vosk-model-small-en-us-0.15 (set voice.vosk_model to use another place). For a Pi or
# Jetson without a network, run it elsewhere and copy that folder over. The assistant itself never
# downloads anything.
set -eu

NAME=vosk-model-small-en-us-0.15
URL="${VOSK_MODEL_URL:-https://alphacephei.com/vosk/models/$NAME.zip}"  # override only to test
SHA256=30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498
DEST="${1:-${XDG_DATA_HOME:-$HOME/.local/share}/car-assistant}"

if [ -d "$DEST/$NAME/am" ]; then
    echo "$DEST/$NAME is already there"
    exit 0
fi
mkdir -p "$DEST"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "fetching $URL"
if command -v curl >/dev/null 2>&1; then
    curl -fL --retry 3 -o "$TMP/$NAME.zip" "$URL"
else
    wget -O "$TMP/$NAME.zip" "$URL"
fi

GOT=$(sha256sum "$TMP/$NAME.zip" | cut -d' ' -f1)
if [ "$GOT" != "$SHA256" ]; then
    echo "error: sha256 mismatch for $NAME.zip: got $GOT, expected $SHA256; not installing it" >&2
    exit 1
fi

if command -v unzip >/dev/null 2>&1; then
    unzip -q "$TMP/$NAME.zip" -d "$TMP"
else
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$TMP/$NAME.zip" "$TMP"
fi
rm -rf "$DEST/$NAME"
mv "$TMP/$NAME" "$DEST/$NAME"
echo "installed $DEST/$NAME (sha256 ok); car-assistant now uses vosk by default"
