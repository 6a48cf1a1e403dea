#!/usr/bin/env bash
# The translation catalogs (backend/translations/<lang>/LC_MESSAGES/messages.po and .mo).
# Usage: scripts/i18n.sh extract   texts of backend/, web/templates/ and web/static/js/ -> messages.pot
#        scripts/i18n.sh update    messages.pot -> every language's messages.po (new texts empty)
#        scripts/i18n.sh compile   every messages.po -> messages.mo (committed; the bundle ships it)
#        scripts/i18n.sh all       the three in turn
# Needs the test extra (Babel): scripts/setup-venv.sh window,test
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel="${PYBABEL:-.venv/bin/pybabel}"
[ -x "$pybabel" ] || pybabel=pybabel
dir=backend/translations
# Keep in step with KEYWORDS in tests/backend/test_i18n_catalog.py.
keywords=(-k N_ -k lazy_gettext -k t -k tn:1,2)

extract() {
    "$pybabel" extract -F babel.cfg "${keywords[@]}" --no-wrap --sort-by-file \
        --project "Dental Images" --msgid-bugs-address "-" -o "$dir/messages.pot" .
}
update() {
    # No fuzzy matching: a guessed translation of a similar text reads as right and is not.
    "$pybabel" update -i "$dir/messages.pot" -d "$dir" --no-wrap --ignore-obsolete --no-fuzzy-matching
}
compile() {
    "$pybabel" compile -d "$dir" --statistics
}

case "${1:-}" in
    extract) extract ;;
    update) update ;;
    compile) compile ;;
    all) extract && update && compile ;;
    *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
