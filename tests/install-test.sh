#!/usr/bin/env bash
# install-test.sh — `make install DESTDIR=… PREFIX=/usr` puts the binary, one man page per
# command and the bash completion in place; the pages and the completion carry every command
# and option of `qcal --help`; `make uninstall` removes them all; README names every option.
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

root=$tmp/root
build=${QCAL_BUILD:-build}
# A make of its own: the binary under test is already built, so nothing is recompiled.
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s --no-print-directory BUILD="$build" QCAL_BIN="$QCAL" "$@"; }

expect "make install DESTDIR PREFIX=/usr" 0 mk install DESTDIR="$root" PREFIX=/usr
if [ "$("$root/usr/bin/qcal" --version 2>&1)" = "$("$QCAL" --version)" ]; then
    ok "installed binary runs"
else
    bad "installed binary runs"
fi

commands=$("$QCAL" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
options_of() { "$QCAL" "$1" --help | grep -oE -- '(^|[ [(|])--[a-z][a-z0-9-]*' | sed 's/^[ [(|]//' | sort -u; }
man1=$root/usr/share/man/man1
missing=""
for cmd in $commands; do
    page=$man1/qcal-$cmd.1
    if [ ! -f "$page" ]; then missing="$missing qcal-$cmd.1"; continue; fi
    text=$(sed 's/\\-/-/g' "$page")
    for opt in $(options_of "$cmd"); do
        grep -qF -- "$opt" <<<"$text" || missing="$missing $cmd:$opt"
    done
done
[ -f "$man1/qcal.1" ] || missing="$missing qcal.1"
if [ -z "$missing" ]; then ok "a man page per command, every option in it"; else bad "man pages lack:$missing"; fi

if command -v groff >/dev/null; then
    if groff -man -ww -z "$man1"/*.1 2>"$tmp/groff"; [ ! -s "$tmp/groff" ]; then
        ok "man pages format without warnings"
    else
        bad "groff warns: $(head -c 300 "$tmp/groff")"
    fi
else
    skip "man page formatting (no groff)"
fi

# Completion: sourced in bash, it completes commands, options and listed values.
completion=$root/usr/share/bash-completion/completions/qcal
complete_words() { # WORD… : what completing the last word offers
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qcal; echo "${COMPREPLY[*]}"' _ "$completion" "$@"
}
[ "$(complete_words qcal qu)" = quantize ] && ok "completion: commands" || bad "completion: commands ($(complete_words qcal qu))"
got=$(complete_words qcal quantize m.onnx --sch)
[ "$got" = --scheme ] && ok "completion: options" || bad "completion: options ($got)"
got=$(complete_words qcal quantize m.onnx --scheme "")
[ "$got" = "gemmlowp symlowp mixed" ] && ok "completion: option values" || bad "completion: option values ($got)"
every=1
for cmd in $commands; do
    got=" $(complete_words qcal "$cmd" --) "
    for opt in $(options_of "$cmd"); do
        [[ $got == *" $opt "* ]] || { every=0; bad "completion of $cmd lacks $opt"; }
    done
done
[ $every = 1 ] && ok "completion offers every option of every command"

expect "make uninstall" 0 mk uninstall DESTDIR="$root" PREFIX=/usr
left=$(find "$root" -type f | head -5)
[ -z "$left" ] && ok "uninstall removes every file" || bad "uninstall left: $left"

# README's option tables (rows starting with '|') name every option each command's --help lists.
grep '^|' README.md > "$tmp/rows"
missing=""
for cmd in $commands; do
    for opt in $(options_of "$cmd"); do grep -qF -- "\`$opt" "$tmp/rows" || missing="$missing $cmd:$opt"; done
done
[ -z "$missing" ] && ok "README's tables name every option of every command" || bad "README's tables lack:$missing"

summary install
