#!/usr/bin/env bash
# Sends a notice to a person: its first argument is the subject, stdin the body. $TORPOR_NOTIFY is a shell command
# line that reads the notice on stdin (e.g. mail -s "torpor" ops@example.com); default: syslog. A notifier that does
# not answer within $TORPOR_NOTIFY_TIMEOUT seconds (default 60; its children too) is stopped and the notice fails:
# a job's later steps (the hourly plan, the nightly training) never wait on it.
: "${TORPOR_NOTIFY:=logger -t torpor}" "${TORPOR_NOTIFY_TIMEOUT:=60}"
{ printf 'torpor on %s: %s\n' "$(hostname)" "$1"; cat; } | timeout "$TORPOR_NOTIFY_TIMEOUT" bash -c "$TORPOR_NOTIFY"
