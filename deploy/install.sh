#!/usr/bin/env bash
# Install car-assistant as a supervised systemd service, from this checkout.
#
#   sudo deploy/install.sh              install or update (safe to run again)
#   sudo deploy/install.sh --uninstall  remove it (keeps /etc/car-assistant and /var/lib/car-assistant)
#   sudo deploy/install.sh --uninstall --purge   ...and those too, and the service user
#
# Supported: Raspberry Pi OS bookworm/trixie 64-bit, Ubuntu 22.04+ and JetPack 6 (with Python 3.11,
# see deploy/README.md) on aarch64 or x86_64; glibc >= 2.35; Python >= 3.11.
#
# Options:
#   --prefix DIR   install under DIR (DIR/opt/car-assistant, DIR/etc/..., DIR/var/lib/...) and skip
#                  every step that needs root (apt, service user, systemctl): to try it, and for tests
#   --python PY    interpreter for the venv (default: python3)
#   --no-deps      install car-assistant alone, not its dependencies (tests; a venv already filled)
#   --no-vosk      do not fetch the English vosk model (pocketsphinx is used instead)
#
# Network: only the package index (apt, pip) and, unless --no-vosk, the vosk model via
# deploy/fetch_vosk_model.sh (sha256-pinned).  The assistant never downloads anything itself.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX="" PY=python3 NO_DEPS="" NO_VOSK="" UNINSTALL="" PURGE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$(mkdir -p "$2" && cd "$2" && pwd); shift ;;
        --python) PY=$2; shift ;;
        --no-deps) NO_DEPS=1 ;;
        --no-vosk) NO_VOSK=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown option $1; see deploy/install.sh --help" >&2; exit 2 ;;
    esac
    shift
done

OPT=$PREFIX/opt/car-assistant
ETC=$PREFIX/etc/car-assistant
STATE=$PREFIX/var/lib/car-assistant
UNIT=$PREFIX/etc/systemd/system/car-assistant.service
NETWORK=$PREFIX/etc/systemd/network/80-can0.network
USER_NAME=car-assistant

say() { echo "install: $*"; }
die() { echo "error: $*" >&2; exit 1; }
as_root() { [ -z "$PREFIX" ]; }  # root-only steps run only for a real install

if as_root && [ "$(id -u)" -ne 0 ]; then
    die "a system install needs root: sudo $0 $*; or try it under a folder with --prefix DIR"
fi

# -- uninstall -------------------------------------------------------------------------------------
if [ -n "$UNINSTALL" ]; then
    if as_root; then
        systemctl disable --now car-assistant.service 2>/dev/null || true
    fi
    rm -f "$UNIT" "$NETWORK"
    rm -rf "$OPT"
    say "removed $OPT, $UNIT, $NETWORK"
    if [ -n "$PURGE" ]; then
        rm -rf "$ETC" "$STATE" "$PREFIX/var/cache/car-assistant"
        say "purged $ETC and $STATE"
        if as_root && id "$USER_NAME" >/dev/null 2>&1; then
            userdel "$USER_NAME" && say "removed user $USER_NAME"
        fi
    else
        say "kept $ETC and $STATE (add --purge to remove them)"
    fi
    if as_root; then systemctl daemon-reload; fi
    exit 0
fi

# -- platform --------------------------------------------------------------------------------------
case "$(uname -m)" in
    aarch64|x86_64) ;;
    *) die "$(uname -m) is not supported: 64-bit only (aarch64, x86_64); 32-bit Pi OS has no onnxruntime or piper wheels" ;;
esac
command -v "$PY" >/dev/null || die "no $PY; install Python 3.11 or newer, or name one with --python"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$PY is Python $("$PY" -c 'import platform; print(platform.python_version())'); 3.11 or newer is needed (JetPack 6: apt install python3.11 python3.11-venv, then --python python3.11; deploy/README.md)"
GLIBC=$("$PY" -c 'import platform; print(platform.libc_ver()[1] or "0")')
[ "$(printf '%s\n2.35\n' "$GLIBC" | sort -V | head -1)" = "2.35" ] ||
    die "glibc $GLIBC is older than 2.35 (pymicro-wakeword's wheels need 2.35): use Pi OS bookworm, Ubuntu 22.04 or JetPack 6"

# -- system packages and the service user (root only) ----------------------------------------------
if as_root; then
    say "system packages: python3-venv libportaudio2 can-utils"
    apt-get install -y -qq --no-install-recommends python3-venv libportaudio2 can-utils >/dev/null
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/car-assistant --shell /usr/sbin/nologin "$USER_NAME"
        say "created user $USER_NAME"
    fi
    for group in audio gpio dialout; do  # gpio exists on Pi OS only
        if getent group "$group" >/dev/null; then usermod -aG "$group" "$USER_NAME"; fi
    done
else
    say "--prefix: skipped apt, the service user and systemctl (they need root)"
fi

# -- the code and its venv -------------------------------------------------------------------------
mkdir -p "$OPT"
rm -rf "$OPT/src.new"
mkdir "$OPT/src.new"
tar -C "$SRC" --exclude=.git --exclude=.venv --exclude=__pycache__ --exclude='*.egg-info' \
    --exclude=.pytest_cache --exclude=.hypothesis --exclude=.mypy_cache --exclude=.ruff_cache \
    --exclude=simulate-out --exclude=bench-out --exclude=runs -cf - . | tar -C "$OPT/src.new" -xf -
rm -rf "$OPT/src"
mv "$OPT/src.new" "$OPT/src"
say "copied the code to $OPT/src"
[ -x "$OPT/venv/bin/python" ] || "$PY" -m venv "$OPT/venv"
# Editable: the service runs the tree copied to $OPT/src (a plain wheel install works too: it carries
# intents/ and models/, see assistant/package_data.py).
"$OPT/venv/bin/pip" install --quiet --disable-pip-version-check ${NO_DEPS:+--no-deps} -e "$OPT/src"
say "installed $("$OPT/venv/bin/pip" show car-assistant 2>/dev/null | sed -n 's/^Version: /car-assistant /p') in $OPT/venv"

# -- config, model, unit, CAN ----------------------------------------------------------------------
mkdir -p "$ETC" "$STATE"
if [ -f "$ETC/config.yaml" ]; then
    say "kept $ETC/config.yaml (yours; deploy/config.yaml has the defaults)"
else
    sed "s#@STATE@#$STATE#g" "$SRC/deploy/config.yaml" > "$ETC/config.yaml"
    say "wrote $ETC/config.yaml"
fi
if [ -z "$NO_VOSK" ]; then
    "$SRC/deploy/fetch_vosk_model.sh" "$STATE"
fi
mkdir -p "$(dirname "$UNIT")" "$(dirname "$NETWORK")"
sed -e "s#/opt/car-assistant#$OPT#g" -e "s#/etc/car-assistant#$ETC#g" \
    "$SRC/deploy/car-assistant.service" > "$UNIT"
install -m 644 "$SRC/deploy/can0.network" "$NETWORK"
say "wrote $UNIT and $NETWORK"

if as_root; then
    chown -R "$USER_NAME:$USER_NAME" "$STATE"
    systemctl daemon-reload
    systemctl enable --quiet systemd-networkd.service car-assistant.service
    say "enabled car-assistant.service; start it now with: sudo systemctl start car-assistant"
    say "(a new CAN HAT needs its config.txt overlay and a reboot first: deploy/README.md)"
fi
say "done"
