#!/usr/bin/env bash
# rel_signals_late.sh - rel_signals.sh for train similarity classify (ctest runs the halves apart: each under ~2 min).
exec bash "$(dirname "$0")/rel_signals.sh" train similarity classify
