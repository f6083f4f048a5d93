#!/usr/bin/env bash
# Alias kept for certs-sample/regenerate.sh: re-records every golden transcript.
exec "$(dirname "$0")/record.sh" "$@"
