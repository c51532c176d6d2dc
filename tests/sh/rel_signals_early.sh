#!/usr/bin/env bash
# rel_signals_early.sh - rel_signals.sh for ingest extract (ctest runs the halves apart: each under ~2 min).
exec bash "$(dirname "$0")/rel_signals.sh" ingest extract
