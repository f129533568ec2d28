#!/bin/bash
# usage: bash scripts/measure-idle.sh BINARY [SECONDS] — runs the demo under Xvfb :$DNUM (default 91),
# waits 10 s, then prints the CPU of each thread (% of one core) over SECONDS (default 60).
# Needs Debian's xvfb and bc; used for the "Idle window" figures in BENCHMARKS.md.
BIN=$1; SECS=${2:-60}; DNUM=${DNUM:-91}
export XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 $XDG_RUNTIME_DIR
Xvfb :$DNUM -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 & XPID=$!
sleep 1
CFG=$(mktemp -d)
DISPLAY=:$DNUM SCALEBOARD_TRACE_FRAMES=1 SCALEBOARD_CONFIG_DIR=$CFG $BIN --demo >/tmp/idle-app.log 2>&1 & APID=$!
sleep 10
tick=$(getconf CLK_TCK)
snap() { # total utime+stime of the process, and per thread name
  for t in /proc/$APID/task/*; do
    name=$(cat $t/comm); read -a f < $t/stat 2>/dev/null || continue
    # fields after the ")" : take from the end-safe way
    s=$(sed 's/.*) //' $t/stat); set -- $s; echo "$name $(( ${12} + ${13} ))"
  done | awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort
}
snap > /tmp/idle-a.txt; t0=$(date +%s.%N)
sleep $SECS
snap > /tmp/idle-b.txt; t1=$(date +%s.%N)
el=$(echo "$t1 - $t0" | bc)
echo "elapsed ${el}s; CPU % of one core by thread name:"
join -a2 /tmp/idle-a.txt /tmp/idle-b.txt | awk -v el=$el -v tk=$tick '{d=($3==""?$2:$3-$2); tot+=d; printf "  %-24s %6.1f %%\n", $1, 100*d/tk/el} END {printf "  %-24s %6.1f %%\n", "TOTAL", 100*tot/tk/el}'
kill $APID; sleep 0.5; kill $XPID
