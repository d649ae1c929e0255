#!/usr/bin/env bash
# Sends a notice to a person: its first argument is the subject, stdin the body. $TORPOR_NOTIFY is a shell command
# line that reads the notice on stdin (e.g. mail -s "torpor" ops@example.com); default: syslog. A notifier that does
# not answer within $TORPOR_NOTIFY_TIMEOUT seconds (default 60; its children too, killed 10 s later if they ignore the
# request to stop) is stopped and the notice fails: a job's later steps (the hourly plan, the nightly training) never
# wait on it. Run by a person at a terminal, the notifier keeps the terminal (Ctrl-C reaches it, it may prompt; its
# children are then not stopped with it).
: "${TORPOR_NOTIFY:=logger -t torpor}" "${TORPOR_NOTIFY_TIMEOUT:=60}"
case "$TORPOR_NOTIFY_TIMEOUT" in 0|*[!0-9]*)
  echo "notify.sh: TORPOR_NOTIFY_TIMEOUT '$TORPOR_NOTIFY_TIMEOUT' is not a number of seconds above 0: 60" >&2
  TORPOR_NOTIFY_TIMEOUT=60 ;;
esac
foreground=(); [ ! -t 2 ] || foreground=(--foreground)
{ printf 'torpor on %s: %s\n' "$(hostname)" "$1"; cat; } | timeout "${foreground[@]}" -k 10 "$TORPOR_NOTIFY_TIMEOUT" bash -c "$TORPOR_NOTIFY"
