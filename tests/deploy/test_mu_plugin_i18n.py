"""Every user-facing string of the mu-plugins (deploy/wordpress/) is in the text domain
'space-bridge', and every mu-plugin loads that domain.

A gettext call without a domain looks its string up in WordPress core's translations (domain
'default'), where the project's strings are not, so it stays English on every site; a call with
another domain is looked up in a file the project never ships. The only exception is a string
that repeats core's own words on purpose (the search form that replaces core's, core's REST and
XML-RPC refusals): it names core's domain, 'default', explicitly and must be listed in
CORE_STRINGS, so that it reads and is translated exactly like core's.

The PHP is scanned, not run: comments and strings are skipped, and a call's arguments are split
at its top-level commas. The argument that carries the domain is taken from each function's
signature in wp-includes/l10n.php.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MU_PLUGINS = ROOT / "deploy" / "wordpress"
DOMAIN = "space-bridge"
CORE = Path("/usr/share/wordpress")  # Debian's wordpress package, installed by the dev stack

# gettext function -> (index of the text argument, index of the context argument or None,
# index of the domain argument), from their signatures in wp-includes/l10n.php.
GETTEXT = {
    "translate": (0, None, 1),
    "__": (0, None, 1),
    "_e": (0, None, 1),
    "esc_html__": (0, None, 1),
    "esc_html_e": (0, None, 1),
    "esc_attr__": (0, None, 1),
    "esc_attr_e": (0, None, 1),
    "translate_with_gettext_context": (0, 1, 2),
    "_x": (0, 1, 2),
    "_ex": (0, 1, 2),
    "esc_html_x": (0, 1, 2),
    "esc_attr_x": (0, 1, 2),
    "_n": (0, None, 3),
    "_nx": (0, 3, 4),
    "_n_noop": (0, None, 2),
    "_nx_noop": (0, 2, 3),
}

# (text, context) of core's strings that a mu-plugin repeats in core's domain, with where core has them.
CORE_STRINGS = {
    ("Search for:", "label"): "wp-includes/general-template.php",  # get_search_form()
    ("Search &hellip;", "placeholder"): "wp-includes/general-template.php",
    ("Search", "submit button"): "wp-includes/general-template.php",
    ("Sorry, you are not allowed to do that.", None): "wp-includes/rest-api/class-wp-rest-server.php",
    ("Invalid post ID.", None): "wp-includes/class-wp-xmlrpc-server.php",
    ("Sorry, you are not allowed to edit this post.", None): "wp-includes/class-wp-xmlrpc-server.php",
}

_NAME = re.compile(r"[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*")


def _code_only(source: str) -> str:
    """The source with comments and the contents of strings blanked (same length, same offsets),
    so that a call is only found in code. Outside <?php ... ?> (inline HTML) is blanked too."""
    out = []
    i, n = 0, len(source)
    in_php = False
    while i < n:
        if not in_php:
            j = source.find("<?php", i)
            if j < 0:
                out.append(" " * (n - i))
                break
            out.append(" " * (j - i) + "<?php")
            i, in_php = j + 5, True
            continue
        c = source[i]
        if source.startswith("?>", i):
            out.append("?>")
            i, in_php = i + 2, False
        elif source.startswith("//", i) or c == "#" and not source.startswith("#[", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", source[i:j]))
            i = j
        elif c in "'\"":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", source[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _arguments(source: str, code: str, open_paren: int) -> tuple[list[str], int]:
    """The arguments (source text, stripped) of the call whose "(" is at open_paren, and the
    offset after its ")". Nesting is counted on the blanked code, so brackets in strings do not count."""
    depth, start, args = 0, open_paren + 1, []
    for k in range(open_paren, len(code)):
        ch = code[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                last = source[start:k].strip()
                if last or args:
                    args.append(last)
                return args, k + 1
        elif ch == "," and depth == 1:
            args.append(source[start:k].strip())
            start = k + 1
    raise ValueError(f"unbalanced call at offset {open_paren}")


def _literal(arg: str) -> str | None:
    """The value of a single-quoted PHP string literal (or a double-quoted one without $), else None."""
    m = re.fullmatch(r"'((?:[^'\\]|\\.)*)'", arg, re.S)
    if m:
        return re.sub(r"\\([\\'])", r"\1", m.group(1))
    m = re.fullmatch(r'"((?:[^"\\$]|\\.)*)"', arg, re.S)
    return m.group(1) if m else None


def calls(source: str, names) -> list[tuple[int, str, list[str]]]:
    """(line, function, arguments) of every call of a function in names: plain calls or calls of
    the global function from a namespace (\\__), not methods (->__, ::__) nor declarations."""
    code = _code_only(source)
    found = []
    for m in _NAME.finditer(code):
        name = m.group(0)
        if name not in names:
            continue
        before = code[:m.start()].rstrip(" \t\n\\")
        if before.endswith(("->", "::", "?->")) or re.search(r"\bfunction\s*&?$", before) \
                or (m.start() > 0 and code[m.start() - 1] == "$"):
            continue
        rest = re.match(r"\s*\(", code[m.end():])
        if not rest:
            continue
        args, _ = _arguments(source, code, m.end() + rest.end() - 1)
        found.append((source.count("\n", 0, m.start()) + 1, name, args))
    return found


def domain_problems(source: str) -> list[str]:
    """Why each gettext call of source is not in the project's domain (nor an allowed core string)."""
    problems = []
    for line, name, args in calls(source, GETTEXT):
        text_at, context_at, domain_at = GETTEXT[name]
        text = _literal(args[text_at]) if len(args) > text_at else None
        context = _literal(args[context_at]) if context_at is not None and len(args) > context_at else None
        where = f"line {line}: {name}({', '.join(args)})"
        if len(args) <= domain_at:
            problems.append(f"{where}: no text domain (WordPress then uses core's, 'default')")
            continue
        domain = _literal(args[domain_at])
        if domain == DOMAIN:
            continue
        if domain == "default" and (text, context) in CORE_STRINGS:
            continue
        if domain == "default":
            problems.append(f"{where}: core's domain for a string not in CORE_STRINGS")
        else:
            problems.append(f"{where}: text domain {args[domain_at]}, not '{DOMAIN}'")
    return problems


def loads_the_domain(source: str) -> bool:
    """Whether source calls load_muplugin_textdomain( 'space-bridge', ... ) in code."""
    return any(args and _literal(args[0]) == DOMAIN
               for _, _, args in calls(source, {"load_muplugin_textdomain"}))


def php_files() -> list[Path]:
    return sorted(MU_PLUGINS.rglob("*.php"))


def entry_files() -> list[Path]:
    """The files WordPress loads itself: only the PHP files at the top of mu-plugins/, not in its
    folders (wp_get_mu_plugins(), wp-includes/load.php); a folder's files are required by them."""
    return sorted(MU_PLUGINS.glob("*.php"))


@pytest.mark.parametrize("path", php_files(), ids=lambda p: str(p.relative_to(MU_PLUGINS)))
def test_every_gettext_call_is_in_the_projects_text_domain(path):
    assert domain_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", entry_files(), ids=lambda p: p.name)
def test_every_mu_plugin_loads_the_text_domain(path):
    assert loads_the_domain(path.read_text(encoding="utf-8")), \
        f"{path.name} does not call load_muplugin_textdomain( '{DOMAIN}', ... )"


def test_the_mu_plugins_have_strings_to_check():
    """The scan finds the calls it should: if it found none, the tests above would pass on anything."""
    found = [c for p in php_files() for c in calls(p.read_text(encoding="utf-8"), GETTEXT)]
    assert len(found) >= 15
    assert {name for _, name, _ in found} >= {"__", "esc_html__", "_n", "esc_html_x", "esc_attr_x"}


def test_a_call_without_the_domain_or_with_another_is_named():
    source = """<?php
    // __( 'in a comment', 'other' ) is no call
    echo esc_html__( 'Fine', 'space-bridge' ) . ' __( "in a string" ) ';
    $a = __( 'No domain' );
    _e( 'Other domain', 'wp-discourse' );
    printf( _n( '%s reply', '%s replies', $n ), $n );
    echo esc_attr_x( 'Search', 'submit button', 'default' );
    echo esc_attr_x( 'Go', 'submit button', 'default' );
    echo \\__( sprintf( 'a(%s)', 'b' ), $domain );
    $this->__( 'a method' ); function __( $x ) {}
    """
    problems = domain_problems(source)
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 5", "line 6", "line 8", "line 9"]
    assert "no text domain" in problems[0]
    assert "'wp-discourse'" in problems[1]
    assert "not in CORE_STRINGS" in problems[3]
    assert "$domain" in problems[4]


def test_loading_is_recognized_only_in_code_and_for_this_domain():
    assert loads_the_domain("<?php\nadd_action( 'init', function () {\n"
                            "\tload_muplugin_textdomain( 'space-bridge', 'space-bridge/languages' );\n} );\n")
    assert not loads_the_domain("<?php\n// load_muplugin_textdomain( 'space-bridge' );\n")
    assert not loads_the_domain("<?php\nload_muplugin_textdomain( 'other' );\n")


@pytest.mark.skipif(not (CORE / "wp-includes").is_dir(), reason="WordPress is not installed (the dev stack installs it)")
@pytest.mark.parametrize("key", sorted(CORE_STRINGS, key=str), ids=lambda k: k[0])
def test_core_strings_are_cores(key):
    """A string allowed in core's domain must be core's, with the same context, or no translation has it."""
    text, context = key
    core = set()
    for _, name, args in calls((CORE / CORE_STRINGS[key]).read_text(encoding="utf-8"), GETTEXT):
        text_at, context_at, _ = GETTEXT[name]
        if context_at is None:
            core.add((_literal(args[text_at]), None))
        elif len(args) > context_at:
            core.add((_literal(args[text_at]), _literal(args[context_at])))
    assert (text, context) in core
