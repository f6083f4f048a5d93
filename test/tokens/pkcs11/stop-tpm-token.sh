#!/bin/sh
# stop-tpm-token.sh DIR: stops exactly the daemons make-tpm-token.sh DIR
# started (the PIDs in DIR/{abrmd,dbus,swtpm}.pid are their `timeout`
# wrappers, which pass SIGTERM on to the daemon), then removes the pid files.
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
for name in abrmd dbus swtpm; do
  f="$1/$name.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null && {
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  }
  rm -f "$f"
done
