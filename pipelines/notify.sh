#!/usr/bin/env bash
# Sends a notice to a person: its first argument is the subject, stdin the body. $TORPOR_NOTIFY is a shell command
# line that reads the notice on stdin (e.g. mail -s "torpor" ops@example.com); default: syslog.
: "${TORPOR_NOTIFY:=logger -t torpor}"
{ printf 'torpor on %s: %s\n' "$(hostname)" "$1"; cat; } | bash -c "$TORPOR_NOTIFY"
