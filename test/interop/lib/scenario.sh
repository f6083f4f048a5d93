# shellcheck shell=bash
#
# The head and tail every namespace scenario shares (see scenario-suite.ts, which
# calls `scenario OUT_DIR WORK_DIR` with REPO, NODE_BIN and CACARD_CLI set):
#
#   HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
#   # shellcheck source=../lib/scenario.sh
#   . "$HERE/../lib/scenario.sh"
#   scenario_init "$1" "$2" [VAR...]   # OUT, W, CACARD; VARs must be set too; sb_init, cd "$W"
#   ...
#   scenario_done [NAME...]            # sb_stop each NAME (5 s), logs to OUT, exit 0
#
# It sources sandbox.sh and pcscd.sh, so a scenario has every lib helper.

SCENARIO_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=./sandbox.sh
. "$SCENARIO_LIB/sandbox.sh"
# shellcheck source=./pcscd.sh
. "$SCENARIO_LIB/pcscd.sh"

# scenario_init OUT_DIR WORK_DIR [VAR...]: REPO, NODE_BIN, CACARD_CLI and each VAR must be
# set (as `: "${VAR:?}"` would: the shell stops), then sb_init and cd into WORK_DIR.
# Sets OUT, W and CACARD (the cacard CLI as a command array).
scenario_init() {
  OUT="$1"
  W="$2"
  shift 2
  local v
  for v in REPO NODE_BIN CACARD_CLI "$@"; do
    [[ "$v" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || sb_die "scenario_init: not a variable name: $v"
    eval ": \"\${$v:?}\""
  done
  CACARD=("$NODE_BIN" "$CACARD_CLI")
  sb_init "$W" "$OUT"
  cd "$W" || exit 70
}

# scenario_done [NAME...]: stop each NAME in turn (5 s grace), copy every log to OUT_DIR,
# and end the scenario with status 0 (the test reads the results, not the exit status).
scenario_done() {
  local name
  for name in "$@"; do
    sb_stop "$name" 5
  done
  cp "$SB_DIR"/*.log "$OUT/" 2>/dev/null
  sb_log "scenario done"
  exit 0
}
