# shellcheck shell=bash
#
# Helpers for interop driver scripts that run as PID 1 of a private
# network + mount + PID namespace (see namespace.ts: runInNamespace).
#
#   . "$LIB/sandbox.sh"
#   sb_init "$WORKDIR"                    # lo up, traps; logs under $SB_DIR
#   sb_start NAME cmd args...             # background, output to $SB_DIR/NAME.log, pid to $SB_DIR/NAME.pid
#   sb_wait_for_socket PATH SECONDS
#   sb_wait_for_log NAME REGEX SECONDS [COUNT]
#   sb_step STEP SECONDS cmd args...       # timed, output to $SB_OUT/STEP.{out,err,rc,time}
#   sb_stop NAME [SECONDS]                 # TERM by pid, KILL after SECONDS; sets SB_LAST_RC
#
# Every process is started and stopped by its own PID, every wait has a
# deadline, and when the script exits (PID 1 of the namespace) the kernel
# kills whatever is left, so nothing leaks into the host.

set -u

SB_DIR=""
SB_OUT=""
SB_NAMES=()
SB_LAST_RC=""

sb_log() {
  printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

sb_die() {
  sb_log "FATAL: $*"
  exit 70
}

# sb_init WORKDIR [OUTDIR]: bring up loopback and register the cleanup trap.
sb_init() {
  SB_DIR="$1"
  SB_OUT="${2:-$1}"
  mkdir -p "$SB_DIR" "$SB_OUT" || sb_die "cannot create $SB_DIR"
  if [ "$$" != 1 ]; then
    sb_die "sandbox.sh must run as PID 1 of its own PID namespace (unshare --pid --fork)"
  fi
  ip link set lo up || sb_die "ip link set lo up failed"
  trap sb_cleanup EXIT
  trap 'sb_log "terminated"; exit 143' TERM INT
}

# sb_private_tmpfs DIR: mount an empty tmpfs over DIR in this mount namespace only.
sb_private_tmpfs() {
  mkdir -p "$1" && mount -t tmpfs -o mode=0755 tmpfs "$1" || sb_die "cannot mount a tmpfs on $1"
}

sb_pid() {
  cat "$SB_DIR/$1.pid" 2>/dev/null
}

# sb_start NAME cmd...: stdin from /dev/null unless SB_STDIN names a file or fifo.
sb_start() {
  local name="$1"
  shift
  local stdin="${SB_STDIN:-/dev/null}"
  "$@" <"$stdin" >"$SB_DIR/$name.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$SB_DIR/$name.pid"
  SB_NAMES+=("$name")
  sb_log "started $name (pid $pid): $*"
}

sb_alive() {
  local pid
  pid="$(sb_pid "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# sb_stop NAME [SECONDS]: SIGTERM, wait, SIGKILL. The exit status ends up in SB_LAST_RC.
sb_stop() {
  local name="$1" grace="${2:-5}" pid i
  pid="$(sb_pid "$name")"
  SB_LAST_RC=""
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      # a zombie still answers kill -0; wait reaps it below
      [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
      sb_log "$name (pid $pid) ignored SIGTERM for ${grace}s; killing"
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  wait "$pid" 2>/dev/null
  SB_LAST_RC=$?
  rm -f "$SB_DIR/$name.pid"
  sb_log "stopped $name (pid $pid), exit status $SB_LAST_RC"
}

sb_cleanup() {
  local rc=$? i
  trap - EXIT TERM INT
  for ((i = ${#SB_NAMES[@]} - 1; i >= 0; i--)); do
    sb_alive "${SB_NAMES[$i]}" && sb_stop "${SB_NAMES[$i]}" 3
  done
  exit "$rc"
}

sb_wait_for_socket() {
  local path="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    [ -S "$path" ] && return 0
    sleep 0.1
  done
  sb_log "timed out after ${secs}s waiting for socket $path"
  return 1
}

# sb_wait_for_log NAME REGEX SECONDS [COUNT]: until NAME.log has COUNT (default 1) matching lines.
sb_wait_for_log() {
  local name="$1" regex="$2" secs="$3" count="${4:-1}" i n
  for ((i = 0; i < secs * 10; i++)); do
    n=$(grep -cE -- "$regex" "$SB_DIR/$name.log" 2>/dev/null)
    [ "${n:-0}" -ge "$count" ] && return 0
    sleep 0.1
  done
  sb_log "timed out after ${secs}s waiting for $count x /$regex/ in $name.log"
  return 1
}

# sb_step STEP SECONDS cmd...: runs cmd under timeout(1); records output, status and seconds.
sb_step() {
  local step="$1" secs="$2" start end rc
  shift 2
  start=$(date +%s.%N)
  timeout -k 3 "$secs" "$@" >"$SB_OUT/$step.out" 2>"$SB_OUT/$step.err"
  rc=$?
  end=$(date +%s.%N)
  echo "$rc" >"$SB_OUT/$step.rc"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }' >"$SB_OUT/$step.time"
  sb_log "step $step: rc=$rc in $(cat "$SB_OUT/$step.time")s"
  return "$rc"
}

# sb_note KEY VALUE: a one-line fact for the test to read ($SB_OUT/KEY.note).
sb_note() {
  printf '%s\n' "$2" >"$SB_OUT/$1.note"
}
