#!/usr/bin/env bash
# Runs "$@" with a throwaway, unlocked GNOME Keyring serving the Secret Service on the current
# D-Bus session bus, so the keychain tests talk to a real Secret Service and never to the user's.
# scripts/test runs:  dbus-run-session -- tests/keyring-session.sh ctest --output-on-failure -j2
# Sets BSTSCAN_TEST_KEYRING=1 for the tests; fails (exit 2) rather than run them without a keyring.
set -euo pipefail

die() { echo "keyring-session.sh: $*" >&2; exit 2; }

[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || die "no D-Bus session bus; run me as: dbus-run-session -- $0 COMMAND..."
[ $# -gt 0 ] || die "usage: dbus-run-session -- $0 COMMAND [ARGS...]"
command -v gnome-keyring-daemon >/dev/null || die "gnome-keyring-daemon is missing (scripts/deps --test installs it)"
command -v secret-tool >/dev/null || die "secret-tool is missing (scripts/deps --test installs libsecret-tools)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/bstscan-keyring.XXXXXX")
cleanup() { rm -rf "$dir"; }
trap cleanup EXIT

# The keyring files and the daemon's control socket live in the throwaway directory; HOME stays
# as it is so the tests' other tools (git...) see their usual configuration.
export XDG_DATA_HOME="$dir/data"
export XDG_RUNTIME_DIR="$dir/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

# A Secret Service the bus activates on its own must use the throwaway directories too, never the
# user's real keyrings.
if command -v dbus-update-activation-environment >/dev/null; then
	dbus-update-activation-environment XDG_DATA_HOME XDG_RUNTIME_DIR ||
		die "cannot set the D-Bus activation environment"
fi

# --unlock reads the password on stdin and creates the "login" keyring with it, unlocked.
out=$(printf '%s' "bstscan-test-keyring" | gnome-keyring-daemon --unlock --components=secrets --daemonize) ||
	die "gnome-keyring-daemon failed to start"
while IFS= read -r line; do
	case "$line" in *=*) export "${line?}" ;; esac
done <<<"$out"

# Wait until this daemon owns the Secret Service name (so nothing triggers a second, activated one).
owned=0
for _ in $(seq 1 100); do
	if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
		owned=1
		break
	fi
	sleep 0.1
done
[ "$owned" = 1 ] || die "gnome-keyring-daemon did not take org.freedesktop.secrets on the session bus"

# Prove the service answers and stores before trusting it with the tests.
probe="bstscan-keyring-probe-$$"
ok=0
for _ in $(seq 1 50); do
	if printf 'probe' | timeout 5 secret-tool store --label="$probe" bstscan-probe "$probe" 2>/dev/null &&
		[ "$(timeout 5 secret-tool lookup bstscan-probe "$probe" 2>/dev/null)" = probe ]; then
		ok=1
		break
	fi
	sleep 0.1
done
[ "$ok" = 1 ] || die "the test keyring does not answer on the session bus"
timeout 5 secret-tool clear bstscan-probe "$probe" || true

export BSTSCAN_TEST_KEYRING=1
status=0
"$@" || status=$?
exit "$status"
