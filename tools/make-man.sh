#!/usr/bin/env bash
# make-man.sh QCAL OUTDIR — writes the man pages qcal.1 and qcal-CMD.1 from the binary's own
# --help text, so the pages never drift from what `qcal CMD --help` prints.
set -euo pipefail
qcal=$1
out=$2
mkdir -p "$out"
version=$("$qcal" --version | sed 's/^qcal //')

# Text to roff: backslashes and hyphens escaped, a line starting with . or ' kept literal.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# The commands and their one-line summaries, from the top-level help.
commands=$("$qcal" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print } on && /^$/ { exit }')
exit_codes=$("$qcal" --help | awk '/^.qcal <command> --help/ { on = 1 } on { print }' |
             tr '\n' ' ' | sed 's/.*Exit codes: //; s/ *$//')

see_also() {
    local skip=$1 list="" name
    for name in qcal $(printf '%s\n' "$commands" | awk '{ print "qcal-" $1 }'); do
        [ "$name" = "$skip" ] && continue
        list="$list${list:+, }\\fB$name\\fR(1)"
    done
    printf '%s\n' "$list"
}

header() { # NAME SUMMARY
    printf '.TH %s 1 "" "qcal %s" "qcal manual"\n' "$(printf '%s' "$1" | tr a-z A-Z)" "$version"
    printf '.SH NAME\n%s \\- %s\n' "$1" "$(printf '%s' "$2" | roff)"
}

footer() { # NAME
    printf '.SH EXIT STATUS\n%s\n' "$(printf '%s' "$exit_codes" | roff)"
    printf '.SH SEE ALSO\n%s\n' "$(see_also "$1")"
}

{
    header qcal "post-training INT8 calibration of ONNX models from the shell"
    printf '.SH SYNOPSIS\n.nf\n'
    "$qcal" --help | sed -n '1s/^usage: //p' | roff
    printf '.fi\n.SH COMMANDS\n.nf\n'
    printf '%s\n' "$commands" | roff
    printf '.fi\n'
    footer qcal
} > "$out/qcal.1"

printf '%s\n' "$commands" | while read -r cmd summary; do
    help=$("$qcal" "$cmd" --help)
    {
        header "qcal-$cmd" "$summary"
        # The synopsis runs until the first line indented by exactly two spaces.
        printf '.SH SYNOPSIS\n.nf\n'
        printf '%s\n' "$help" | awk '/^  [^ ]/ { exit } { sub(/^usage: /, ""); sub(/^       /, ""); print }' | roff
        printf '.fi\n.SH DESCRIPTION\n.nf\n'
        printf '%s\n' "$help" | awk 'on || /^  [^ ]/ { on = 1; sub(/^  /, ""); print }' | roff
        printf '.fi\n'
        footer "qcal-$cmd"
    } > "$out/qcal-$cmd.1"
done
